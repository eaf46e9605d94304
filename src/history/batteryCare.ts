/**
 * Battery care from what the UPS reports: the battery's age and its replace-by date, and whether it needs attention
 * (its replace flag, or a failed self-test). Pure.
 *
 * There is no runtime estimate for UPSes that report no battery.runtime: see the README (Battery care) for why.
 */
import { statusFlags } from '../nut/upsStatus.js';
import { DAY_MS } from './outageLog.js';
import type { SelfTestRecord } from './selfTest.js';

/** Where the battery's date comes from, best first: NUT's battery.date is its installation or last change. */
export const BATTERY_DATE_VARIABLES = ['battery.date', 'battery.mfr.date'] as const;
export type BatteryDateSource = (typeof BATTERY_DATE_VARIABLES)[number];

export interface BatteryDate {
  /** `YYYY-MM-DD`. */
  date: string;
  source: BatteryDateSource;
  /** Midnight UTC of that day. */
  ms: number;
}

/** Dates before this are a UPS's placeholder (`01/01/70`), not a battery. */
const EARLIEST_YEAR = 1990;

/**
 * A date as NUT drivers write it: `2023/05/17` or `2023-05-17` (usbhid-ups, most), `05/17/23` or `05/17/2023`
 * (apcsmart: month first, as NUT's own docs write battery.date), `17.05.2023` (day first). Undefined for anything
 * else (CyberPower units report `CPS` here), an impossible day, or a date before 1990 or after `now`.
 */
export function parseBatteryDate(
  raw: string | undefined,
  now: number,
): { date: string; ms: number } | undefined {
  const ymd = splitDate(raw?.trim() ?? '');
  if (!ymd) return undefined;
  const [y, m, d] = ymd;
  const ms = Date.UTC(y, m - 1, d);
  const check = new Date(ms);
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== m - 1 || check.getUTCDate() !== d)
    return undefined;
  if (y < EARLIEST_YEAR || ms > now) return undefined;
  return { date: check.toISOString().slice(0, 10), ms };
}

/** Year, month, day of the forms parseBatteryDate takes (not yet checked to be a real day). */
function splitDate(text: string): [number, number, number] | undefined {
  const iso = /^(\d{4})[/-](\d{1,2})[/-](\d{1,2})$/.exec(text);
  if (iso) return [Number(iso[1]), Number(iso[2]), Number(iso[3])];
  const us = /^(\d{1,2})\/(\d{1,2})\/(\d{2}|\d{4})$/.exec(text);
  if (us) {
    const year = Number(us[3]);
    return [year < 100 ? year + (year >= 70 ? 1900 : 2000) : year, Number(us[1]), Number(us[2])];
  }
  const dotted = /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/.exec(text);
  if (dotted) return [Number(dotted[3]), Number(dotted[2]), Number(dotted[1])];
  return undefined;
}

/** The battery's date from the first variable that holds a real date. */
export function batteryDateOf(vars: Readonly<Record<string, string>>, now: number): BatteryDate | undefined {
  for (const source of BATTERY_DATE_VARIABLES) {
    const parsed = parseBatteryDate(vars[source], now);
    if (parsed) return { ...parsed, source };
  }
  return undefined;
}

/** `date` plus `months` (the day clamped to the month's length: 31 Jan + 1 month = 28/29 Feb), `YYYY-MM-DD`. */
export function addMonths(date: BatteryDate, months: number): string {
  const start = new Date(date.ms);
  const target = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + months, 1));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(start.getUTCDate(), lastDay));
  return target.toISOString().slice(0, 10);
}

/** Why the battery needs attention, in this order. */
export const ATTENTION_REASONS = ['replace-flag', 'self-test-failed'] as const;
export type AttentionReason = (typeof ATTENTION_REASONS)[number];

export interface BatteryCare {
  date: BatteryDate | undefined;
  ageDays: number | undefined;
  /** The date plus BATTERY_LIFE_MONTHS; undefined without a date or with a life of 0. */
  replaceBy: string | undefined;
  reasons: AttentionReason[];
  /** The reasons in words, for a notification; undefined when there are none. */
  text: string | undefined;
}

export function batteryCare(
  vars: Readonly<Record<string, string>>,
  lastTest: SelfTestRecord | null,
  lifeMonths: number,
  now: number,
): BatteryCare {
  const date = batteryDateOf(vars, now);
  const reasons: AttentionReason[] = [];
  const words: string[] = [];
  if (statusFlags(vars['ups.status']).has('RB')) {
    reasons.push('replace-flag');
    words.push('the UPS says the battery needs replacing (RB)');
  }
  if (lastTest?.result === 'failed') {
    reasons.push('self-test-failed');
    words.push(`the last self-test failed (${new Date(lastTest.at).toISOString()}: ${lastTest.detail})`);
  }
  return {
    date,
    ageDays: date === undefined ? undefined : Math.floor((now - date.ms) / DAY_MS),
    replaceBy: date === undefined || lifeMonths <= 0 ? undefined : addMonths(date, lifeMonths),
    reasons,
    text: words.length === 0 ? undefined : capitalize(words.join('; ')),
  };
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
