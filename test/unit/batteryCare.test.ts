import { describe, expect, it } from 'vitest';
import { addMonths, batteryCare, batteryDateOf, parseBatteryDate } from '../../src/history/batteryCare.js';
import { historyChangeKey, historyJson } from '../../src/history/historyJson.js';
import type { SelfTestRecord } from '../../src/history/selfTest.js';

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);

describe('battery dates as NUT drivers write them', () => {
  it.each([
    ['2023/05/17', '2023-05-17'],
    ['2023-05-17', '2023-05-17'],
    [' 2023/5/7 ', '2023-05-07'],
    ['05/17/23', '2023-05-17'],
    ['05/17/2023', '2023-05-17'],
    ['11/26/99', '1999-11-26'],
    ['17.05.2023', '2023-05-17'],
  ])('%s → %s', (raw, date) => {
    expect(parseBatteryDate(raw, NOW)?.date).toBe(date);
  });

  it.each([
    ['CPS'],
    ['not set'],
    ['00/00/00'],
    ['2023/02/30'],
    ['13/45/2019'],
    ['1985/01/01'],
    ['2030/01/01'],
    [''],
  ])('%s is no date', (raw) => {
    expect(parseBatteryDate(raw, NOW)).toBeUndefined();
  });

  it('prefers battery.date (installed or changed) over battery.mfr.date, and skips junk', () => {
    expect(
      batteryDateOf({ 'battery.date': '2024/01/02', 'battery.mfr.date': '2023/01/01' }, NOW),
    ).toMatchObject({
      date: '2024-01-02',
      source: 'battery.date',
    });
    expect(batteryDateOf({ 'battery.date': 'not set', 'battery.mfr.date': '2023/01/01' }, NOW)).toMatchObject(
      {
        source: 'battery.mfr.date',
      },
    );
    expect(batteryDateOf({ 'battery.mfr.date': 'CPS' }, NOW)).toBeUndefined();
  });

  it('adds months with the day clamped to the month', () => {
    const date = (d: string) => {
      const parsed = parseBatteryDate(d, NOW);
      if (!parsed) throw new Error(d);
      return { ...parsed, source: 'battery.date' as const };
    };
    expect(addMonths(date('2023/05/17'), 36)).toBe('2026-05-17');
    expect(addMonths(date('2024/01/31'), 1)).toBe('2024-02-29');
    expect(addMonths(date('2023/11/30'), 3)).toBe('2024-02-29');
  });
});

const failed: SelfTestRecord = {
  test: 'quick',
  result: 'failed',
  detail: 'Done and error',
  origin: 'command',
  startedAt: NOW - 60_000,
  at: NOW - 30_000,
};

describe('battery care', () => {
  it('age and replace-by from the battery date and the configured life', () => {
    const care = batteryCare({ 'battery.date': '2023/11/25', 'ups.status': 'OL' }, null, 36, NOW);
    expect(care).toMatchObject({ ageDays: 1096, replaceBy: '2026-11-25', reasons: [], text: undefined });
    expect(batteryCare({ 'battery.date': '2023/11/25' }, null, 0, NOW).replaceBy).toBeUndefined();
  });

  it('needs attention for the RB flag and for a failed self-test, and names both', () => {
    const care = batteryCare({ 'ups.status': 'OL RB' }, failed, 36, NOW);
    expect(care.reasons).toEqual(['replace-flag', 'self-test-failed']);
    expect(care.text).toBe(
      'The UPS says the battery needs replacing (RB); the last self-test failed (2026-11-25T11:59:30.000Z: Done and error)',
    );
    expect(batteryCare({ 'ups.status': 'OL' }, { ...failed, result: 'passed' }, 36, NOW).reasons).toEqual([]);
  });
});

describe('the history state', () => {
  const base = {
    figures: undefined,
    selfTest: null,
    tests: { supported: false, running: false, nextAt: null },
    vars: { 'ups.status': 'OL' },
    lifeMonths: 36,
    now: NOW,
  };

  it('is all nulls and zeros before anything is known, and never throws', () => {
    expect(historyJson(base)).toMatchObject({
      on_battery: null,
      time_on_battery_s: null,
      last_outage_start: null,
      outages_24h: 0,
      self_test_result: null,
      battery_attention: false,
      battery_attention_reasons: [],
    });
  });

  it('shows a live time on battery and the last outage; the change key leaves the live counter out', () => {
    const last = {
      start: NOW - 600_000,
      startSeen: true,
      end: NOW - 540_000,
      lastSeen: NOW - 540_000,
      wh: 4.2,
    };
    const figures = {
      onBattery: true,
      current: { start: NOW - 12_345, startSeen: true },
      last: { ...last, complete: true },
      longest: last,
      day: { count: 2, onBatteryMs: 72_345, unwatchedMs: 0 },
      month: { count: 2, onBatteryMs: 72_345, unwatchedMs: 5000 },
      since: NOW - 86_400_000,
    };
    const json = historyJson({ ...base, figures, selfTest: failed });
    expect(json).toMatchObject({
      on_battery: true,
      time_on_battery_s: 12.3,
      on_battery_since: new Date(NOW - 12_345).toISOString(),
      last_outage_duration_s: 60,
      last_outage_battery_wh: 4.2,
      last_outage_complete: true,
      longest_outage_duration_s: 60,
      outages_24h: 2,
      unwatched_30d_s: 5,
      self_test_result: 'failed',
      battery_attention: true,
      battery_attention_reasons: ['self-test-failed'],
    });
    const later = historyJson({ ...base, figures, selfTest: failed, now: NOW + 5000 });
    expect(historyChangeKey(later)).toBe(historyChangeKey(json));
  });
});
