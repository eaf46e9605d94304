/**
 * The retained JSON on `<base>/<ups>/history` (UpsHistoryJson), from the outage figures, the self-tests and the UPS's
 * data. Pure.
 */
import type { UpsHistoryJson } from '../api/payloads.js';
import { batteryCare } from './batteryCare.js';
import type { OutageFigures } from './historyExtension.js';
import { durationMs, type OutageRecord } from './outageLog.js';
import type { SelfTestRecord } from './selfTest.js';
import type { SelfTestView } from './selfTestExtension.js';

export interface HistoryJsonInput {
  figures: OutageFigures | undefined;
  selfTest: SelfTestRecord | null;
  tests: SelfTestView;
  vars: Readonly<Record<string, string>>;
  /** BATTERY_LIFE_MONTHS. */
  lifeMonths: number;
  now: number;
}

const iso = (ms: number | null | undefined): string | null =>
  ms === null || ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
const secs = (ms: number | null): number | null => (ms === null ? null : Math.round(ms / 100) / 10);

function outage(record: OutageRecord | null | undefined) {
  return {
    start: iso(record?.start),
    end: iso(record?.end),
    duration_s: record ? secs(durationMs(record)) : null,
  };
}

export function historyJson(input: HistoryJsonInput): UpsHistoryJson {
  const { figures: f, selfTest: t, tests, now } = input;
  const last = outage(f?.last);
  const longest = outage(f?.longest);
  const care = batteryCare(input.vars, t, input.lifeMonths, now);
  const onBattery = f?.onBattery ?? null;
  return {
    on_battery: onBattery,
    time_on_battery_s: onBattery === null ? null : f?.current ? (secs(now - f.current.start) ?? 0) : 0,
    on_battery_since: iso(f?.current?.start),
    last_outage_start: last.start,
    last_outage_end: last.end,
    last_outage_duration_s: last.duration_s,
    last_outage_battery_wh: f?.last?.wh ?? null,
    last_outage_complete: f?.last ? f.last.complete : null,
    longest_outage_start: longest.start,
    longest_outage_end: longest.end,
    longest_outage_duration_s: longest.duration_s,
    outages_24h: f?.day.count ?? 0,
    on_battery_24h_s: secs(f?.day.onBatteryMs ?? 0) ?? 0,
    unwatched_24h_s: secs(f?.day.unwatchedMs ?? 0) ?? 0,
    outages_30d: f?.month.count ?? 0,
    on_battery_30d_s: secs(f?.month.onBatteryMs ?? 0) ?? 0,
    unwatched_30d_s: secs(f?.month.unwatchedMs ?? 0) ?? 0,
    watched_since: iso(f?.since),
    self_test_supported: tests.supported,
    self_test_running: tests.running,
    self_test_result: t?.result ?? null,
    self_test_detail: t?.detail ?? null,
    self_test_type: t?.test ?? null,
    self_test_origin: t?.origin ?? null,
    self_test_started_at: iso(t?.startedAt),
    self_test_at: iso(t?.at),
    next_self_test_at: iso(tests.nextAt),
    battery_date: care.date?.date ?? null,
    battery_date_source: care.date?.source ?? null,
    battery_age_days: care.ageDays ?? null,
    battery_replace_by: care.replaceBy ?? null,
    battery_attention: care.reasons.length > 0,
    battery_attention_reasons: care.reasons,
    battery_attention_text: care.text ?? null,
  };
}

/** What decides whether the JSON is worth publishing again: all of it but the live counter. */
export function historyChangeKey(json: UpsHistoryJson): string {
  return JSON.stringify({ ...json, time_on_battery_s: null });
}
