/**
 * Outages of one UPS as the agent observes them. Pure: `(state, observation) → (state, actions)`; the history
 * extension performs the actions (events, saving).
 *
 * An agent that was down says so and guesses nothing: the first observation after a start closes the gap since the
 * UPS was last seen (`seenUntil`, saved while running). An outage it was in the middle of either goes on (on battery
 * again: one outage, not two, marked incomplete) or ended unseen (back on line: its end is unknown). A UPS found on
 * battery with no outage on record started one the agent did not see begin.
 */
import {
  addGap,
  addRecord,
  emptyLog,
  type Gap,
  isComplete,
  type OutageLog,
  type OutageRecord,
} from './outageLog.js';

/** The outage in progress. */
export interface CurrentOutage {
  start: number;
  startSeen: boolean;
  /** The energy meter's total (kWh) when it started; null without a power source. */
  startKwh: number | null;
}

export interface TrackerState {
  /** When this UPS's history began (its first observation ever). */
  since: number | null;
  log: OutageLog;
  current: CurrentOutage | null;
  /** The last time the agent knew this UPS's status (saved, so the next start knows where its gap began). */
  seenUntil: number | null;
  /** Whether this run of the agent has observed the UPS yet (not saved: every start begins false). */
  resumed: boolean;
}

export interface Observation {
  at: number;
  /** On battery and not in a self-test (a test on battery is not an outage). */
  onBattery: boolean;
  /** The energy meter's total now (kWh); null without a power source. */
  kwh: number | null;
}

export type TrackerAction =
  | { type: 'outage-started'; start: number; startSeen: boolean }
  | { type: 'outage-ended'; record: OutageRecord; complete: boolean }
  | { type: 'gap'; gap: Gap; onBatteryBefore: boolean; onBatteryAfter: boolean };

export function initialTracker(): TrackerState {
  return { since: null, log: emptyLog(), current: null, seenUntil: null, resumed: false };
}

export function observe(
  state: TrackerState,
  obs: Observation,
): { state: TrackerState; actions: TrackerAction[] } {
  const actions: TrackerAction[] = [];
  let next: TrackerState = {
    ...state,
    since: state.since ?? obs.at,
    seenUntil: Math.max(state.seenUntil ?? obs.at, obs.at),
    resumed: true,
  };
  if (!state.resumed) return resume(state, next, obs);
  if (!state.current && obs.onBattery) {
    next = { ...next, current: { start: obs.at, startSeen: true, startKwh: obs.kwh } };
    actions.push({ type: 'outage-started', start: obs.at, startSeen: true });
  } else if (state.current && !obs.onBattery) {
    const ended = endOutage(next.log, state.current, obs.at, obs.at, obs.kwh);
    next = { ...next, log: ended.log, current: null };
    actions.push({ type: 'outage-ended', record: ended.record, complete: ended.complete });
  }
  return { state: next, actions };
}

/** The agent knows the UPS's status at `at` (a heartbeat while its data is fresh). */
export function touch(state: TrackerState, at: number): TrackerState {
  if (!state.resumed) return state;
  return { ...state, seenUntil: Math.max(state.seenUntil ?? at, at) };
}

/** The first observation of this run: the gap since the UPS was last seen, and what became of an outage in it. */
function resume(
  state: TrackerState,
  next: TrackerState,
  obs: Observation,
): { state: TrackerState; actions: TrackerAction[] } {
  const actions: TrackerAction[] = [];
  const lastSeen = state.seenUntil;
  const gap = lastSeen !== null && obs.at > lastSeen ? { from: lastSeen, to: obs.at } : undefined;
  let log = next.log;
  if (gap) {
    log = addGap(log, gap);
    actions.push({
      type: 'gap',
      gap,
      onBatteryBefore: state.current !== null,
      onBatteryAfter: obs.onBattery,
    });
  }
  let current = state.current;
  if (current && !obs.onBattery) {
    // It ended while the agent was not watching: when, nobody here knows.
    const ended = endOutage(log, current, null, lastSeen ?? current.start, null);
    log = ended.log;
    current = null;
    actions.push({ type: 'outage-ended', record: ended.record, complete: false });
  } else if (!current && obs.onBattery) {
    // On battery already: an outage the agent did not see begin (a first start ever, or one that began in a gap).
    current = { start: obs.at, startSeen: false, startKwh: obs.kwh };
    actions.push({ type: 'outage-started', start: obs.at, startSeen: false });
  }
  return { state: { ...next, log, current }, actions };
}

function endOutage(
  log: OutageLog,
  current: CurrentOutage,
  end: number | null,
  lastSeen: number,
  kwh: number | null,
): { log: OutageLog; record: OutageRecord; complete: boolean } {
  const drawn =
    end !== null && kwh !== null && current.startKwh !== null && kwh >= current.startKwh
      ? (kwh - current.startKwh) * 1000
      : null;
  const record: OutageRecord = {
    start: current.start,
    startSeen: current.startSeen,
    end,
    lastSeen,
    wh: drawn === null ? null : Math.round(drawn * 1000) / 1000,
  };
  const next = addRecord(log, record);
  return { log: next, record, complete: isComplete(record, next.gaps) };
}
