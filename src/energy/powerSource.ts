/**
 * Where a UPS's real power (W) comes from, best first. Pure: a UPS's variables and the user's power factor in,
 * a number of watts and the source's name out.
 */
import type { PowerSource } from '../api/payloads.js';

export type PowerSourceName = PowerSource;

export interface PowerReading {
  watts: number;
  source: PowerSourceName;
}

/** A NUT value as a finite, non-negative number (drivers pad some values with blanks); undefined otherwise. */
function quantity(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw.trim());
  return Number.isFinite(value) && value >= 0 ? value : undefined;
}

/**
 * The UPS's output power: `ups.realpower` where the UPS measures it; else `ups.load` (%) × `ups.realpower.nominal`;
 * else `ups.load` × `ups.power.nominal` (VA) × `powerFactor`, only when the user set one (0 = unset: a power
 * factor is never guessed, a VA rating alone gives no watts). Undefined when none applies.
 */
export function powerOf(
  vars: Readonly<Record<string, string>>,
  powerFactor: number,
): PowerReading | undefined {
  const realpower = quantity(vars['ups.realpower']);
  if (realpower !== undefined) return { watts: realpower, source: 'ups.realpower' };
  const load = quantity(vars['ups.load']);
  if (load === undefined) return undefined;
  const realNominal = quantity(vars['ups.realpower.nominal']);
  if (realNominal !== undefined && realNominal > 0)
    return { watts: (load / 100) * realNominal, source: 'ups.load*ups.realpower.nominal' };
  const vaNominal = quantity(vars['ups.power.nominal']);
  if (vaNominal !== undefined && vaNominal > 0 && powerFactor > 0)
    return { watts: (load / 100) * vaNominal * powerFactor, source: 'ups.load*ups.power.nominal*pf' };
  return undefined;
}
