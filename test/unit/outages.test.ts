import { describe, expect, it } from 'vitest';
import { batchOf, flush, OPEN_GATE, offer } from '../../src/history/outageEvents.js';
import {
  addGap,
  addRecord,
  DAY_MS,
  emptyLog,
  HOUR_MS,
  isComplete,
  KEEP_MS,
  MAX_RECORDS,
  type OutageRecord,
  prune,
  windowFigures,
} from '../../src/history/outageLog.js';
import { initialTracker, observe, type TrackerState, touch } from '../../src/history/outageTracker.js';

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
const s = (n: number) => T0 + n * 1000;

/** Feeds observations (seconds after T0, on battery?, kWh) and returns the state and every action. */
function run(state: TrackerState, steps: Array<[number, boolean, number?]>) {
  const actions = [];
  let current = state;
  for (const [at, onBattery, kwh] of steps) {
    const step = observe(current, { at: s(at), onBattery, kwh: kwh ?? null });
    current = step.state;
    actions.push(...step.actions);
  }
  return { state: current, actions };
}

/** The state a restarted agent loads: what was saved, not yet resumed. */
const restarted = (state: TrackerState): TrackerState => ({ ...state, resumed: false });

describe('outage tracker', () => {
  it('records an outage from OB to OL, with the energy the meter counted in between', () => {
    const { state, actions } = run(initialTracker(), [
      [0, false, 1.0],
      [10, true, 1.0],
      [70, false, 1.0125],
    ]);
    expect(actions.map((a) => a.type)).toEqual(['outage-started', 'outage-ended']);
    const record = state.log.records[0] as OutageRecord;
    expect(record).toEqual({ start: s(10), startSeen: true, end: s(70), lastSeen: s(70), wh: 12.5 });
    expect(isComplete(record, state.log.gaps)).toBe(true);
    expect(state.log.longest).toEqual(record);
    expect(state.current).toBeNull();
  });

  it('has no energy figure without a power source', () => {
    const { state } = run(initialTracker(), [
      [0, false],
      [1, true],
      [2, false],
    ]);
    expect(state.log.records[0]?.wh).toBeNull();
  });

  it('does not announce an outage the agent did not see begin, but records it as such (first start on battery)', () => {
    const { state, actions } = run(initialTracker(), [
      [0, true],
      [30, false],
    ]);
    expect(actions[0]).toEqual({ type: 'outage-started', start: s(0), startSeen: false });
    const ended = actions[1];
    expect(ended?.type === 'outage-ended' && ended.complete).toBe(false);
    expect(state.log.records[0]).toMatchObject({ startSeen: false, end: s(30) });
  });

  it('a restart in the middle of an outage that goes on: one outage, not two, and the gap is said', () => {
    const before = run(initialTracker(), [
      [0, false],
      [10, true],
    ]).state;
    const saved = touch(before, s(20)); // the agent stopped at 20 s
    const { state, actions } = run(restarted(saved), [
      [50, true], // back at 50 s: still on battery
      [90, false],
    ]);
    expect(actions.map((a) => a.type)).toEqual(['gap', 'outage-ended']);
    expect(actions[0]).toEqual({
      type: 'gap',
      gap: { from: s(20), to: s(50) },
      onBatteryBefore: true,
      onBatteryAfter: true,
    });
    expect(state.log.records).toHaveLength(1);
    const record = state.log.records[0] as OutageRecord;
    expect(record).toMatchObject({ start: s(10), startSeen: true, end: s(90) });
    expect(isComplete(record, state.log.gaps)).toBe(false);
    // Time on battery counts only what the agent saw: 10 → 20 and 50 → 90.
    expect(windowFigures(state.log, null, s(100), DAY_MS)).toEqual({
      count: 1,
      onBatteryMs: 50_000,
      unwatchedMs: 30_000,
    });
  });

  it('an outage that ended while the agent was down: recorded, its end unknown, none invented', () => {
    const saved = touch(run(initialTracker(), [[10, true]]).state, s(20));
    const { state, actions } = run(restarted(saved), [[60, false]]);
    expect(actions.map((a) => a.type)).toEqual(['gap', 'outage-ended']);
    expect(state.log.records).toEqual([
      { start: s(10), startSeen: false, end: null, lastSeen: s(20), wh: null },
    ]);
    expect(state.current).toBeNull();
  });

  it('an outage that began while the agent was down: on battery at the restart, its start not seen', () => {
    const saved = touch(run(initialTracker(), [[10, false]]).state, s(20));
    const { state, actions } = run(restarted(saved), [[60, true]]);
    expect(actions.map((a) => a.type)).toEqual(['gap', 'outage-started']);
    expect(state.current).toMatchObject({ start: s(60), startSeen: false });
  });

  it('a restart with nothing on record and the UPS on line: nothing happened', () => {
    const saved = touch(run(initialTracker(), [[10, false]]).state, s(20));
    const { actions } = run(restarted(saved), [[60, false]]);
    expect(actions.map((a) => a.type)).toEqual(['gap']);
  });
});

describe('outage log figures', () => {
  const record = (start: number, end: number | null, lastSeen = end ?? start): OutageRecord => ({
    start,
    startSeen: true,
    end,
    lastSeen,
    wh: null,
  });

  it('counts 24 h and 30 days, an ongoing outage included, and clips time at the window edge', () => {
    const now = T0 + 40 * DAY_MS;
    let log = emptyLog();
    log = addRecord(log, record(now - 20 * DAY_MS, now - 20 * DAY_MS + 60_000)); // 30 d only
    log = addRecord(log, record(now - DAY_MS - 30_000, now - DAY_MS + 30_000)); // straddles the 24 h edge
    log = addRecord(log, record(now - HOUR_MS, now - HOUR_MS + 10_000));
    const ongoing = record(now - 5000, null, now);
    expect(windowFigures(log, ongoing, now, DAY_MS)).toEqual({
      count: 2,
      onBatteryMs: 45_000,
      unwatchedMs: 0,
    });
    expect(windowFigures(log, ongoing, now, KEEP_MS)).toEqual({
      count: 4,
      onBatteryMs: 135_000,
      unwatchedMs: 0,
    });
  });

  it('keeps the longest outage past the 30 days, and forgets the rest', () => {
    let log = addRecord(emptyLog(), record(T0, T0 + HOUR_MS));
    log = addRecord(log, record(T0 + 2 * DAY_MS, T0 + 2 * DAY_MS + 1000));
    log = addGap(log, { from: T0 + DAY_MS, to: T0 + DAY_MS + 5000 });
    const later = prune(log, T0 + 32 * DAY_MS);
    expect(later.records).toHaveLength(1);
    expect(later.gaps).toEqual([]);
    expect(later.longest?.end).toBe(T0 + HOUR_MS);
  });

  it('folds a flapping input past MAX_RECORDS into hourly counts: every outage still counted', () => {
    let log = emptyLog();
    const n = MAX_RECORDS + 250;
    for (let i = 0; i < n; i++) log = addRecord(log, record(T0 + i * 4000, T0 + i * 4000 + 2000));
    expect(log.records).toHaveLength(MAX_RECORDS);
    expect(log.folded.reduce((sum, b) => sum + b.count, 0)).toBe(250);
    const now = T0 + n * 4000;
    const figures = windowFigures(log, null, now, DAY_MS);
    expect(figures.count).toBe(n);
    expect(figures.onBatteryMs).toBe(n * 2000);
  });
});

describe('outage events while an input flaps', () => {
  const WINDOW = 60_000;
  const batch = (start: number, end: number) =>
    batchOf({ start, startSeen: true, end, lastSeen: end, wh: 1 }, true, []);

  it('tells the first outage at once and holds the next ones until the window is over, as one event', () => {
    let step = offer(OPEN_GATE, batch(s(0), s(2)), s(2), WINDOW);
    expect(step.emit?.outages).toBe(1);
    let gate = step.gate;
    for (let i = 1; i <= 20; i++) {
      step = offer(gate, batch(s(i * 3), s(i * 3 + 1)), s(i * 3 + 1), WINDOW);
      expect(step.emit).toBeUndefined();
      expect(step.flushAt).toBe(s(2) + WINDOW);
      gate = step.gate;
    }
    const flushed = flush(gate, s(62));
    expect(flushed.emit).toEqual({
      outages: 20,
      start: s(3),
      startSeen: true,
      end: s(61),
      onBatteryMs: 20_000,
      wh: 20,
      complete: true,
    });
    expect(flush(flushed.gate, s(63)).emit).toBeUndefined();
    // After a quiet window, the next outage is told at once again.
    expect(offer(flushed.gate, batch(s(200), s(201)), s(201), WINDOW).emit?.outages).toBe(1);
  });
});
