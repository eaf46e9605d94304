/**
 * The self-test schedule (BATTERY_SELF_TEST_*): when the next test is due, and whether it may start now. Pure; the
 * clock and the UPS's data come in. Times of day are the agent's local time (TZ).
 */
import { SELF_TEST_INSTCMDS, type SelfTestType } from '../api/commands.js';
import type { BatterySettings } from '../config/batterySchema.js';
import { statusFlags } from '../nut/upsStatus.js';
import type { UpsSnapshot } from '../supervisor/types.js';
import { DAY_MS, HOUR_MS } from './outageLog.js';

export interface ScheduleSettings {
  /** Days between tests; 0: no schedule. */
  days: number;
  /** `HH:MM`, local time: a due test may start in the hour from then. */
  at: string;
  type: SelfTestType;
  /** battery.charge (%) below which a test waits. */
  minCharge: number;
}

/** The schedule's part of the battery settings (BATTERY_SELF_TEST_*). */
export function scheduleSettings(battery: BatterySettings): ScheduleSettings {
  return {
    days: battery.selfTestDays,
    at: battery.selfTestAt,
    type: battery.selfTestType,
    minCharge: battery.selfTestMinCharge,
  };
}

/**
 * Whether the schedule can run at all: on (days > 0), its test command in MQTT_INSTCMD_ALLOW, and NUT credentials
 * (NUT_USERNAME) to send it with. A UPS must also list the command.
 */
export function scheduleRunnable(
  settings: Pick<ScheduleSettings, 'days' | 'type'>,
  allowedInstcmds: readonly string[],
  hasCredentials: boolean,
): boolean {
  return settings.days > 0 && hasCredentials && allowedInstcmds.includes(SELF_TEST_INSTCMDS[settings.type]);
}

/** A due test may start within this long after the set time; past it, the next day's window is waited for. */
export const WINDOW_MS = HOUR_MS;

/** Why a due test did not start. */
export const DEFER_REASONS = ['on-battery', 'low-charge', 'charge-unknown', 'recovering', 'testing'] as const;
export type DeferReason = (typeof DEFER_REASONS)[number];

function timeOfDay(at: string): { hour: number; minute: number } {
  const [hour = 0, minute = 0] = at.split(':').map(Number);
  return { hour, minute };
}

/** The set time on the local day of `ms`. */
function slotOnDayOf(ms: number, at: string, dayOffset = 0): number {
  const { hour, minute } = timeOfDay(at);
  const d = new Date(ms);
  d.setDate(d.getDate() + dayOffset);
  d.setHours(hour, minute, 0, 0);
  return d.getTime();
}

/** The first window [slot, slot + WINDOW_MS) that has not ended by `ms`. */
function windowAfter(ms: number, at: string): number {
  const today = slotOnDayOf(ms, at);
  return today + WINDOW_MS > ms ? today : slotOnDayOf(ms, at, 1);
}

/**
 * When the next test may start and until when. `lastTestAt`: the last finished test (any origin); none yet: due from
 * `firstSeenAt` (when the schedule first saw the UPS). A window that passed without a test (the agent was down,
 * or the test had to wait all of it) gives way to the next one.
 */
export function nextWindow(
  settings: Pick<ScheduleSettings, 'days' | 'at'>,
  lastTestAt: number | null,
  firstSeenAt: number,
  now: number,
): { from: number; until: number } {
  const anchor = lastTestAt === null ? firstSeenAt : lastTestAt + settings.days * DAY_MS;
  let slot = windowAfter(anchor, settings.at);
  if (slot + WINDOW_MS <= now) slot = windowAfter(now, settings.at);
  return { from: Math.max(slot, anchor), until: slot + WINDOW_MS };
}

/** Why a due test must wait now, or undefined when it may start. Unknown charge waits: a test is never a guess. */
export function deferReason(
  snapshot: Pick<UpsSnapshot, 'vars' | 'supervisor'>,
  minCharge: number,
  testing: boolean,
): DeferReason | undefined {
  if (snapshot.supervisor.state !== 'ok') return 'recovering';
  if (statusFlags(snapshot.vars['ups.status']).has('OB')) return 'on-battery';
  if (testing) return 'testing';
  const raw = snapshot.vars['battery.charge']?.trim();
  const charge = raw === undefined || raw === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(charge)) return 'charge-unknown';
  if (charge < minCharge) return 'low-charge';
  return undefined;
}
