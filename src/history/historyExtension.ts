import { join } from 'node:path';
import type { BusEvents, EventBus } from '../events.js';
import type { Extension } from '../extension.js';
import type { Logger } from '../logger.js';
import { statusFlags } from '../nut/upsStatus.js';
import type { SupervisorPort } from '../supervisor/port.js';
import { HISTORY_FILE, loadHistoryFile, saveHistoryFile, type UpsHistoryEntry } from './historyFile.js';
import { batchOf, flush, type GateState, OPEN_GATE, type OutageBatch, offer } from './outageEvents.js';
import {
  DAY_MS,
  isComplete,
  KEEP_MS,
  type OutageRecord,
  prune,
  type WindowFigures,
  windowFigures,
} from './outageLog.js';
import { initialTracker, observe, type TrackerAction, type TrackerState, touch } from './outageTracker.js';
import { type SelfTestRecord, testObservation, testRunning } from './selfTest.js';

/** How often the history is saved while nothing happens: bounds what a crash leaves unknown (seenUntil). */
export const HISTORY_SAVE_INTERVAL_MS = 60_000;
/** A change is saved this soon (an outage's start must survive a crash right after it); at most this often. */
const SAVE_DELAY_MS = 1000;

export interface HistoryDeps {
  supervisor: Pick<SupervisorPort, 'snapshot'>;
  bus: EventBus;
  logger: Logger;
  upsNames: readonly string[];
  /** DATA_PATH. */
  dataPath: string;
  /** The energy meter's total for a UPS now (kWh); null without a power source. */
  energyKwh: (ups: string) => number | null;
  /** At most one `outage` event per UPS this often (a flapping input). */
  outageEventWindowMs: number;
  saveIntervalMs?: number;
  now?: () => number;
}

/** One UPS's outage figures, for its history state. */
export interface OutageFigures {
  /** null while this run of the agent has no status of the UPS yet. */
  onBattery: boolean | null;
  current: { start: number; startSeen: boolean } | null;
  last: (OutageRecord & { complete: boolean }) | null;
  longest: OutageRecord | null;
  day: WindowFigures;
  month: WindowFigures;
  since: number | null;
}

interface UpsHistory {
  tracker: TrackerState;
  selfTest: SelfTestRecord | null;
  gate: GateState;
  flushTimer?: NodeJS.Timeout;
  /** The supervisor has fresh data (state ok): the agent knows the UPS's status. */
  watching: boolean;
  /** A self-test the agent started runs (from the bus): on battery then is not an outage. */
  agentTest: boolean;
}

/**
 * Outages per UPS (history file, `outage` and `history-gap` events) and the last self-test result of each (from the
 * self-test extension's events), kept in DATA_PATH/history.json. An outage is a stretch on battery outside a
 * self-test. Saved within a second of a change, every minute, and on stop.
 */
export class HistoryExtension implements Extension {
  readonly name = 'history';
  private readonly deps: HistoryDeps;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly upses = new Map<string, UpsHistory>();
  private readonly listeners = new Set<(ups: string) => void>();
  /** UPSes in the file that ups.conf no longer has: written back as they were (a section commented out for a while). */
  private others = new Map<string, UpsHistoryEntry>();
  private canSave = true;
  private saveFailing = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();

  constructor(deps: HistoryDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ module: 'history' });
    this.now = deps.now ?? Date.now;
  }

  async start(): Promise<void> {
    const { bus, dataPath } = this.deps;
    const loaded = await loadHistoryFile(dataPath);
    if (!loaded.ok) {
      this.canSave = loaded.canSave;
      const message = `outage history starts empty: ${join(dataPath, HISTORY_FILE)} unusable: ${loaded.problem}`;
      if (loaded.problem.includes('does not exist')) this.log.info(message);
      else this.log.warn(message);
    }
    for (const ups of this.deps.upsNames) this.upses.set(ups, fromEntry(loaded.entries.get(ups)));
    this.others = new Map([...loaded.entries].filter(([ups]) => !this.upses.has(ups)));
    bus.on('status-changed', (e) => this.evaluate(e.ups, e.at), this);
    bus.on('ups-updated', (e) => this.evaluate(e.snapshot.name, e.at), this);
    bus.on('state-changed', (e) => this.onStateChanged(e), this);
    bus.on('self-test-started', (e) => this.onAgentTest(e.ups, true, e.at), this);
    bus.on('self-test', (e) => this.onSelfTest(e), this);
    this.heartbeat = setInterval(() => this.beat(), this.deps.saveIntervalMs ?? HISTORY_SAVE_INTERVAL_MS);
    for (const ups of this.upses.keys()) {
      const u = this.upses.get(ups) as UpsHistory;
      u.watching = this.deps.supervisor.snapshot(ups)?.supervisor.state === 'ok';
      this.evaluate(ups, this.now());
    }
  }

  async stop(): Promise<void> {
    this.deps.bus.removeOwner(this);
    clearInterval(this.heartbeat);
    clearTimeout(this.saveTimer);
    const now = this.now();
    for (const [ups, u] of this.upses) {
      clearTimeout(u.flushTimer);
      this.flushEvents(ups, u, now); // a flapping input's held outages are told before the agent goes
      if (u.watching) u.tracker = touch(u.tracker, now);
    }
    this.listeners.clear();
    await this.save();
  }

  /** Called with a UPS's name whenever its figures or its last self-test changed. */
  onChange(listener: (ups: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  lastSelfTest(ups: string): SelfTestRecord | null {
    return this.upses.get(ups)?.selfTest ?? null;
  }

  figures(ups: string, now = this.now()): OutageFigures | undefined {
    const u = this.upses.get(ups);
    if (!u) return undefined;
    const { tracker } = u;
    const log = prune(tracker.log, now);
    const current = tracker.current;
    const ongoing = current && {
      start: current.start,
      startSeen: current.startSeen,
      end: null,
      lastSeen: now,
      wh: null,
    };
    const last = log.records.at(-1);
    return {
      onBattery: tracker.resumed ? current !== null : null,
      current: current && { start: current.start, startSeen: current.startSeen },
      last: last ? { ...last, complete: isComplete(last, log.gaps) } : null,
      longest: log.longest,
      day: windowFigures(log, ongoing, now, DAY_MS),
      month: windowFigures(log, ongoing, now, KEEP_MS),
      since: tracker.since,
    };
  }

  private onStateChanged(e: BusEvents['state-changed']): void {
    const u = this.upses.get(e.ups);
    if (!u) return;
    if (e.from === 'ok' && e.to !== 'ok') u.tracker = touch(u.tracker, e.at);
    u.watching = e.to === 'ok';
    if (u.watching) this.evaluate(e.ups, e.at);
  }

  private onAgentTest(ups: string, running: boolean, at: number): void {
    const u = this.upses.get(ups);
    if (!u) return;
    u.agentTest = running;
    this.evaluate(ups, at);
  }

  private onSelfTest(e: BusEvents['self-test']): void {
    const u = this.upses.get(e.ups);
    if (!u) return;
    if (e.result !== 'not-started') {
      const { test, result, detail, origin, startedAt, at } = e;
      u.selfTest = { test, result, detail, origin, startedAt, at };
      this.changed(e.ups);
    }
    if (e.origin !== 'ups') this.onAgentTest(e.ups, false, e.at);
  }

  /** Takes in the UPS's status now, if its data is fresh: on battery outside a self-test, or not. */
  private evaluate(ups: string, at: number): void {
    const u = this.upses.get(ups);
    const snapshot = this.deps.supervisor.snapshot(ups);
    if (!u || !snapshot || snapshot.supervisor.state !== 'ok') return;
    const status = snapshot.vars['ups.status'];
    if (status === undefined || status === 'WAIT') return;
    const testing = u.agentTest || testRunning(testObservation(snapshot.vars));
    const onBattery = statusFlags(status).has('OB') && !testing;
    if (u.tracker.resumed && (u.tracker.current !== null) === onBattery) return;
    const { state, actions } = observe(u.tracker, { at, onBattery, kwh: this.deps.energyKwh(ups) });
    u.tracker = state;
    for (const action of actions) this.perform(ups, u, action, at);
    if (actions.length > 0) this.changed(ups);
  }

  private perform(ups: string, u: UpsHistory, action: TrackerAction, at: number): void {
    switch (action.type) {
      case 'outage-started':
        this.log.info(
          { ups, start: action.start, startSeen: action.startSeen },
          action.startSeen
            ? `${ups}: outage began`
            : `${ups}: on battery already, since before the agent saw it`,
        );
        return;
      case 'gap': {
        const { from, to } = action.gap;
        this.log.info(
          { ups, from: new Date(from).toISOString(), to: new Date(to).toISOString() },
          `${ups}: not watched for ${Math.round((to - from) / 1000)} s (the agent was down): nothing of that time is guessed`,
        );
        this.deps.bus.emit('history-gap', { ups, from, to, ...beforeAfter(action), at });
        return;
      }
      case 'outage-ended': {
        const { record, complete } = action;
        this.log.info(
          { ups, ...record, complete },
          `${ups}: outage ended${complete ? '' : ' (not seen whole)'}`,
        );
        const gated = offer(
          u.gate,
          batchOf(record, complete, u.tracker.log.gaps),
          at,
          this.deps.outageEventWindowMs,
        );
        u.gate = gated.gate;
        if (gated.emit) this.emitOutage(ups, gated.emit, at);
        if (gated.flushAt !== undefined && !u.flushTimer) {
          u.flushTimer = setTimeout(
            () => {
              u.flushTimer = undefined;
              this.flushEvents(ups, u, this.now());
            },
            Math.max(0, gated.flushAt - at),
          );
        }
        return;
      }
    }
  }

  private flushEvents(ups: string, u: UpsHistory, now: number): void {
    const flushed = flush(u.gate, now);
    u.gate = flushed.gate;
    if (flushed.emit) this.emitOutage(ups, flushed.emit, now);
  }

  private emitOutage(ups: string, batch: OutageBatch, at: number): void {
    const day = this.figures(ups, at)?.day;
    this.deps.bus.emit('outage', {
      ups,
      ...batch,
      count24h: day?.count ?? batch.outages,
      onBattery24hMs: day?.onBatteryMs ?? batch.onBatteryMs,
      at,
    });
  }

  private changed(ups: string): void {
    this.scheduleSave();
    for (const listener of this.listeners) listener(ups);
  }

  private beat(): void {
    const now = this.now();
    for (const u of this.upses.values()) {
      if (u.watching) u.tracker = touch(u.tracker, now);
      u.tracker = { ...u.tracker, log: prune(u.tracker.log, now) };
    }
    void this.save();
  }

  private scheduleSave(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.save();
    }, SAVE_DELAY_MS);
  }

  /** Writes the file; one write at a time, never throws. */
  private save(): Promise<void> {
    if (!this.canSave) return this.saving;
    const entries = new Map([
      ...this.others,
      ...[...this.upses].map(([ups, u]) => [ups, toEntry(u)] as const),
    ]);
    this.saving = this.saving.then(async () => {
      try {
        await saveHistoryFile(this.deps.dataPath, entries);
        if (this.saveFailing) this.log.info('history file written again');
        this.saveFailing = false;
      } catch (error) {
        if (!this.saveFailing)
          this.log.warn({ err: error }, `cannot write the history file in ${this.deps.dataPath}`);
        this.saveFailing = true;
      }
    });
    return this.saving;
  }
}

function beforeAfter(action: Extract<TrackerAction, { type: 'gap' }>) {
  return { onBatteryBefore: action.onBatteryBefore, onBatteryAfter: action.onBatteryAfter };
}

function fromEntry(entry: UpsHistoryEntry | undefined): UpsHistory {
  const tracker = entry
    ? {
        since: entry.since,
        log: entry.log,
        current: entry.current,
        seenUntil: entry.seenUntil,
        resumed: false,
      }
    : initialTracker();
  return { tracker, selfTest: entry?.selfTest ?? null, gate: OPEN_GATE, watching: false, agentTest: false };
}

function toEntry(u: UpsHistory): UpsHistoryEntry {
  const { since, seenUntil, current, log } = u.tracker;
  return { since, seenUntil, current, log, selfTest: u.selfTest };
}
