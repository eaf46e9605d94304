/**
 * Reading NUT's `ups.status`: a space-separated list of flags (`OL`, `OB DISCHRG LB`, `OL CHRG RB`, `WAIT`…).
 * Flag order carries no meaning, so every comparison here works on the set of flags.
 */

export function statusFlags(status: string | undefined): Set<string> {
  return new Set((status ?? '').split(/\s+/).filter((flag) => flag.length > 0));
}

// The power source, first match wins. OB before OL: a driver caught mid-transfer may briefly report both.
const POWER_SOURCE: ReadonlyArray<readonly [flag: string, label: string]> = [
  ['OFF', 'Off'],
  ['OB', 'On battery'],
  ['BYPASS', 'On bypass'],
  ['OL', 'Online'],
];

// Conditions appended after the power source, most urgent first.
const CONDITIONS: ReadonlyArray<readonly [flag: string, label: string]> = [
  ['FSD', 'forced shutdown'],
  ['LB', 'low battery'],
  ['RB', 'replace battery'],
  ['OVER', 'overload'],
  ['ALARM', 'alarm'],
  ['HB', 'high battery'],
  ['CAL', 'calibrating'],
  ['TRIM', 'trimming voltage'],
  ['BOOST', 'boosting voltage'],
  ['CHRG', 'charging'],
  ['DISCHRG', 'discharging'],
];

/**
 * A readable label for `ups.status`: "Online", "On battery", "Online, charging", "On battery, low battery",
 * "Replace battery" (no power-source flag), "Waiting for data" (`WAIT`, empty or unknown status).
 * `DISCHRG` is left out on battery, where it says nothing new. A status made only of flags this table does not
 * know is shown as it is.
 */
export function statusLabel(status: string | undefined): string {
  const flags = statusFlags(status);
  if (flags.size === 0 || flags.has('WAIT')) return 'Waiting for data';
  const source = POWER_SOURCE.find(([flag]) => flags.has(flag))?.[1];
  const conditions = CONDITIONS.filter(
    ([flag]) => flags.has(flag) && !(flag === 'DISCHRG' && flags.has('OB')),
  ).map(([, label]) => label);
  const parts = source === undefined ? conditions : [source, ...conditions];
  const first = parts[0];
  if (first === undefined) return [...flags].join(' ');
  parts[0] = first.charAt(0).toUpperCase() + first.slice(1);
  return parts.join(', ');
}
