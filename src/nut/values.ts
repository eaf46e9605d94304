/**
 * NUT values as JSON values. Pure. upsd sends every value as text, and drivers differ in how they write one
 * quantity: `2370` or `39:30` for a runtime, `25.0` or the placeholder `XX.X` for a temperature.
 */

/**
 * The battery-runtime family, seconds by NUT's naming (and durations in seconds in Home Assistant's NUT
 * integration). Some drivers write them as minutes and seconds (`1:57`, `64:41`) or hours, minutes and seconds
 * (`1:02:03`). The one list of variables read in those forms; every duration sensor reads one of them (a test
 * checks that). Not `ups.delay.*` / `ups.timer.*`: settings and countdowns (`-1` = not running), always plain.
 */
export const DURATION_VARIABLES: ReadonlySet<string> = new Set([
  'battery.runtime',
  'battery.runtime.low',
  'battery.runtime.restart',
]);

// A plain decimal: optional minus, no leading zero (except "0" itself), optional fraction. No exponent, no "+",
// no ".5", no "5.", no hex, no Infinity/NaN.
const PLAIN_DECIMAL = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$/;

// A decimal as a measuring driver may pad it (`024.0`, `0230`): leading zeros allowed, nothing else.
const DECIMAL = /^-?[0-9]+(?:\.[0-9]+)?$/;

// m:ss or mm:ss (the minutes may pass 59: `64:41`), or h:mm:ss. Seconds, and the minutes of h:mm:ss, are 00–59.
const CLOCK_DURATION = /^(?:([0-9]{1,6}):([0-5][0-9])|([0-9]{1,6}):([0-5][0-9]):([0-5][0-9]))$/;

// Name segments of variables that identify or date something. Their digits are text, not quantities:
// `ups.serial: 123456`, `ups.productid: 5161`, `driver.version.internal: 0.10` (a number would read 0.1).
const TEXT_SEGMENTS = new Set([
  'serial',
  'id',
  'productid',
  'vendorid',
  'model',
  'mfr',
  'firmware',
  'version',
  'date',
  'time',
  'part',
  'name',
  'desc',
  'macaddr',
]);

/** `1:57` → 117, `64:41` → 3881, `1:02:03` → 3723 (blanks around allowed); undefined for any other text. */
export function parseClockDuration(raw: string): number | undefined {
  const match = CLOCK_DURATION.exec(raw.trim());
  if (!match) return undefined;
  const [, m, s, h, hm, hs] = match;
  if (m !== undefined) return Number(m) * 60 + Number(s);
  return Number(h) * 3600 + Number(hm) * 60 + Number(hs);
}

/**
 * The JSON value of one NUT variable. The rule: a JSON number only when the value, after trimming surrounding
 * blanks (some drivers pad), is a plain decimal (`100`, `24.0`, `-60`, `0.5`) that a double holds exactly
 * enough, and the variable is not an identifier or date (a name segment in TEXT_SEGMENTS: `serial`, `id`,
 * `productid`, `vendorid`, `model`, `version`, `date`…); or, for a DURATION_VARIABLES variable, a clock form
 * (`1:57` → 117 seconds). Everything else stays the exact string NUT sent: leading zeros (`ups.serial: "000123"`,
 * `ups.productid: "0501"`, `ups.vendorid: "0764"`), hex (`051d`), exponents, versions (`2.8.0`), words.
 */
export function parseNutValue(name: string, raw: string): string | number {
  if (name.split('.').some((segment) => TEXT_SEGMENTS.has(segment))) return raw;
  const trimmed = raw.trim();
  if (!PLAIN_DECIMAL.test(trimmed)) return durationOf(name, trimmed) ?? raw;
  const value = Number(trimmed);
  const integerDigits = trimmed.replace(/^-/, '').split('.')[0] ?? '';
  // Past 15 significant integer digits a double may not hold the value; such "numbers" are ids anyway.
  if (!Number.isFinite(value) || integerDigits.length > 15) return raw;
  return value;
}

/**
 * The value of a variable that is a measurement (one a numeric Home Assistant sensor reads): a number, or null when
 * the UPS wrote no number. Laxer than parseNutValue about form (a measurement is never an id, so `024.0` is 24) and
 * stricter about words: placeholders (`XX.X`, `n/a`, ``) are "no reading", not a value to show.
 */
export function parseMeasurement(name: string, raw: string): number | null {
  const trimmed = raw.trim();
  if (!DECIMAL.test(trimmed)) return durationOf(name, trimmed) ?? null;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : null;
}

function durationOf(name: string, trimmed: string): number | undefined {
  return DURATION_VARIABLES.has(name) ? parseClockDuration(trimmed) : undefined;
}
