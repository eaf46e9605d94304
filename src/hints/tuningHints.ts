/**
 * Which ups.conf changes could cut a UPS's fault episodes, by driver, device and running NUT version. Pure: the
 * agent only suggests; it never edits the user's ups.conf (the text names the lines the user could add).
 */
import { NutVersion } from '../nut/nutVersion.js';
import type { EpisodeCounts, EpisodeKind } from './episodeCounter.js';

export interface TuningHint {
  /** Stable per rule and kind (e.g. `usbhid-cyberpower-stale`): the daily repeat is counted per UPS and id. */
  id: string;
  kind: EpisodeKind;
  /** For the log and the event: what was seen, what to try, and why. */
  text: string;
  /** ups.conf lines suggested for the UPS's section, e.g. `pollonly`, `pollfreq = 60`; empty when none fits. */
  options: string[];
}

export interface HintInput {
  ups: string;
  driver: string;
  /** The UPS's section of ups.conf, keys as written (bare flags are `true`). */
  options: Readonly<Record<string, string | true>>;
  /** USB vendor id from ups.conf, else the driver's `ups.vendorid`: `0764` is CyberPower. */
  vendorId: string | undefined;
  /** The running NUT (upsd -V); undefined when unknown. */
  nutVersion: NutVersion | undefined;
  counts: EpisodeCounts;
  /** Episodes of one kind in 24 h from which its hints apply; 0 turns hints off. */
  threshold: number;
}

const CYBERPOWER_VENDOR_ID = '0764';
/** usbhid-ups learned interrupt_pipe_no_events_tolerance in 2.8.3 (NUT #2671). */
const NO_EVENTS_TOLERANCE_SINCE = NutVersion.of('2.8.3');
/** Drivers 2.8.0–2.8.2 never reap a socket client that disconnects and spin on it (NUT #2484, fixed 2.8.3). */
const SPIN_FIX_SINCE = NutVersion.of('2.8.3');
const SPIN_BUG_FROM = NutVersion.of('2.8.0');
/** ups.conf's pollinterval defaults to 2 s; this asks a slow device half as often or less. */
const SLOW_POLLINTERVAL = 5;
/** usbhid-ups's pollfreq: seconds between full HID report polls (the quick status checks are not affected). */
const LONG_POLLFREQ = 60;
const Q1_BLAZER_DRIVERS = new Set(['blazer_ser', 'blazer_usb']);

/** Every hint that applies: one per kind whose count reached the threshold, none while the threshold is 0. */
export function tuningHints(input: HintInput): TuningHint[] {
  if (input.threshold <= 0) return [];
  const hints: TuningHint[] = [];
  for (const kind of ['stale', 'hang'] as const) {
    if (input.counts[kind] >= input.threshold) hints.push(faultHint(input, kind));
  }
  if (input.counts.spin >= input.threshold) hints.push(spinHint(input));
  return hints;
}

/** `0764`, `0x0764`, `764` → `0764`. */
export function normalizeVendorId(raw: string | undefined): string | undefined {
  const hex = raw?.trim().toLowerCase().replace(/^0x/, '');
  return hex && /^[0-9a-f]{1,4}$/.test(hex) ? hex.padStart(4, '0') : undefined;
}

function faultHint(input: HintInput, kind: 'stale' | 'hang'): TuningHint {
  if (input.driver === 'usbhid-ups' && normalizeVendorId(input.vendorId) === CYBERPOWER_VENDOR_ID) {
    const hint = cyberPowerHint(input, kind);
    if (hint) return hint;
  }
  if (Q1_BLAZER_DRIVERS.has(input.driver)) return blazerHint(input, kind);
  return genericHint(input, kind);
}

function seen(input: HintInput, kind: EpisodeKind): string {
  const what = { stale: 'stale-data', hang: 'hung-driver', spin: 'spinning-driver' }[kind];
  return `${input.counts[kind]} ${what} episodes in 24 h on ${input.ups} (${input.driver})`;
}

function section(input: HintInput, options: string[]): string {
  return `[${input.ups}] in ups.conf: ${options.map((o) => `\`${o}\``).join(', ')} (nut-mqtt never edits ups.conf; restart the agent after the change)`;
}

function numberOption(input: HintInput, key: string): number | undefined {
  const value = input.options[key];
  return typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : undefined;
}

function versionText(version: NutVersion | undefined): string {
  return version ? `NUT ${version}` : 'this NUT (version unknown)';
}

/**
 * CyberPower on usbhid-ups goes quiet on the USB interrupt pipe (NUT #3576: hundreds of stale episodes a day).
 * The options already in the section are not suggested again; none left means the generic hint instead.
 */
function cyberPowerHint(input: HintInput, kind: 'stale' | 'hang'): TuningHint | undefined {
  const options: string[] = [];
  const why: string[] = [];
  if (input.options.pollonly === undefined) {
    options.push('pollonly');
    why.push('`pollonly` polls the UPS instead of waiting on its USB interrupt pipe');
  }
  const pollfreq = numberOption(input, 'pollfreq');
  if (pollfreq === undefined || pollfreq < LONG_POLLFREQ) {
    options.push(`pollfreq = ${LONG_POLLFREQ}`);
    why.push(`\`pollfreq = ${LONG_POLLFREQ}\` asks for the full set of HID reports less often`);
  }
  let gate = '';
  const toleranceKnown = input.nutVersion?.atLeast(NO_EVENTS_TOLERANCE_SINCE) ?? false;
  if (input.options.interrupt_pipe_no_events_tolerance === undefined) {
    if (toleranceKnown) {
      options.push('interrupt_pipe_no_events_tolerance = 10');
      why.push(
        '`interrupt_pipe_no_events_tolerance = 10` makes the driver reconnect after 10 empty interrupt reads in a row instead of waiting forever (use it instead of `pollonly`)',
      );
    } else {
      // An option the running driver does not know stops it from starting at all (NUT #2087).
      gate = ` \`interrupt_pipe_no_events_tolerance\` is left out: it needs NUT 2.8.3+ and ${versionText(input.nutVersion)} would refuse to start the driver with an option it does not know (NUT #2087).`;
    }
  }
  if (options.length === 0) return undefined;
  return {
    id: `usbhid-cyberpower-${kind}`,
    kind,
    text: `${seen(input, kind)}, a CyberPower UPS (vendorid 0764). Try, one at a time, in ${section(input, options)}: ${why.join('; ')}.${gate}`,
    options,
  };
}

/** blazer_ser / blazer_usb: NUT marks them obsolete; nutdrv_qx speaks the same Megatec Q1 protocol. */
function blazerHint(input: HintInput, kind: 'stale' | 'hang'): TuningHint {
  const options = ['driver = nutdrv_qx', ...pollintervalOption(input)];
  return {
    id: `blazer-nutdrv-qx-${kind}`,
    kind,
    text: `${seen(input, kind)}. ${input.driver} is obsolete in NUT in favour of nutdrv_qx, which speaks the same Q1 protocol and is maintained; a longer \`pollinterval\` (default 2 s) gives a slow serial UPS more time between queries. In ${section(input, options)}.`,
    options,
  };
}

function genericHint(input: HintInput, kind: 'stale' | 'hang'): TuningHint {
  const options = pollintervalOption(input);
  const cause =
    kind === 'hang'
      ? 'the driver stopped answering on its socket, usually blocked on I/O with the device'
      : 'the driver could not get data from the device in time';
  const advice =
    options.length > 0
      ? `A longer \`pollinterval\` (default 2 s) asks the device less often: in ${section(input, options)}.`
      : 'Its pollinterval is already long.';
  return {
    id: `generic-${kind}`,
    kind,
    text: `${seen(input, kind)}: ${cause}. Check the cable, the port and the device's power (for USB: another port or a powered hub). ${advice}`,
    options,
  };
}

function pollintervalOption(input: HintInput): string[] {
  const current = numberOption(input, 'pollinterval');
  return current !== undefined && current >= SLOW_POLLINTERVAL ? [] : [`pollinterval = ${SLOW_POLLINTERVAL}`];
}

/** Spinning: on 2.8.0–2.8.2 the known socket-client bug, fixed by upgrading; nothing in ups.conf helps. */
function spinHint(input: HintInput): TuningHint {
  const version = input.nutVersion;
  const base = seen(input, 'spin');
  const bug =
    'drivers of NUT 2.8.0–2.8.2 do not reap a socket client that disconnects and then burn CPU (NUT #2484, fixed in 2.8.3)';
  if (version === undefined)
    return {
      id: 'spin-nut-version-unknown',
      kind: 'spin',
      text: `${base}. The NUT version is unknown; ${bug}: if yours is older than 2.8.3, upgrade it. No ups.conf option avoids it.`,
      options: [],
    };
  if (version.atLeast(SPIN_BUG_FROM) && !version.atLeast(SPIN_FIX_SINCE))
    return {
      id: 'spin-upgrade-nut',
      kind: 'spin',
      text: `${base} on NUT ${version}: ${bug}. Upgrade NUT to 2.8.3 or later; until then each spin costs a driver restart. No ups.conf option avoids it.`,
      options: [],
    };
  return {
    id: 'spin-report',
    kind: 'spin',
    text: `${base} on NUT ${version}, which has the socket-client fix of 2.8.3: not the known bug. Report it to NUT with the driver's debug output (the driver run by hand with \`-DDD\`).`,
    options: [],
  };
}

/** At most one publication per UPS and hint within `repeatMs` (a day): the first at once, then daily repeats. */
export class HintRepeat {
  private readonly repeatMs: number;
  private readonly lastAt = new Map<string, number>();

  constructor(repeatMs: number) {
    this.repeatMs = repeatMs;
  }

  /** True (and remembered) when this UPS's hint was never published, or last published `repeatMs` ago or more. */
  take(ups: string, hintId: string, now: number): boolean {
    const key = JSON.stringify([ups, hintId]);
    const last = this.lastAt.get(key);
    if (last !== undefined && now - last < this.repeatMs) return false;
    this.lastAt.set(key, now);
    return true;
  }
}
