import { EventEmitter } from 'node:events';
import type { SelfTestType } from './api/commands.js';
import type { EpisodeKind } from './hints/episodeCounter.js';
import type { OutageBatch } from './history/outageEvents.js';
import type { SelfTestOrigin, SelfTestResult } from './history/selfTest.js';
import type { DeferReason } from './history/selfTestSchedule.js';
import type { CircuitReason } from './supervisor/recoveryPolicy.js';
import type { RecoveryReason, StaleSource, SupervisionState, UpsSnapshot } from './supervisor/types.js';
import type { UsbProblem } from './usb/usbProblem.js';

/**
 * The one in-process event bus. Modules never call each other's internals: the supervisor emits, the MQTT bridge
 * (and logs, metrics, tests) listen. Each event name maps to exactly one payload type, checked by the compiler.
 */
export interface BusEvents {
  /** A UPS's supervision state changed. */
  'state-changed': { ups: string; from: SupervisionState; to: SupervisionState; at: number };
  /** First fresh data after the agent started the driver. */
  ready: { ups: string; startupMs: number; at: number };
  /** upsd or the driver reports stale data. */
  stale: { ups: string; source: StaleSource; at: number };
  /** Data is fresh again without a restart (within the grace period). */
  'stale-cleared': { ups: string; at: number };
  /** The driver stopped answering PING on its socket. */
  /** No PONG within `timeoutMs`: the driver's learned PING timeout (PROBE_TIMEOUT until learned). */
  hung: { ups: string; silentMs: number; timeoutMs: number; at: number };
  /** The driver process exited (or was killed). */
  'driver-exited': {
    ups: string;
    childPid: number;
    code: number | null;
    signal: string | null;
    expected: boolean;
    at: number;
  };
  /** The driver burned more than SPIN_CPU_SHARE of a core for `durationMs` (a restart with reason `spinning` follows). */
  'driver-spinning': { ups: string; childPid: number; cpuShare: number; durationMs: number; at: number };
  /**
   * The USB reset rung ran before a restart: `reset` (authorized 0 then 1 on `device`), `refused` (no device, or
   * several, match ups.conf: nothing touched), `failed` (writing `authorized` failed). `detail` says why.
   */
  'usb-reset': {
    ups: string;
    result: 'reset' | 'refused' | 'failed';
    device: string | null;
    detail: string;
    at: number;
  };
  /**
   * A USB driver could not get at its device (`problem`; null: it has it again): `text` says what to check, `line`
   * is the driver's own words. Once per change, not per retry.
   */
  'usb-problem': { ups: string; problem: UsbProblem | null; text: string; line: string | null; at: number };
  /**
   * A UPS's fault episodes of `kind` in the last 24 h reached HINT_EPISODES_PER_DAY: what in ups.conf could cut them
   * (`options`, lines for the UPS's section; the agent never edits the file). Once, then at most daily per hint.
   */
  'tuning-hint': {
    ups: string;
    hint: string;
    kind: EpisodeKind;
    count24h: number;
    threshold: number;
    text: string;
    options: string[];
    at: number;
  };
  /**
   * An outage ended: the UPS is back on line (`end`; null when it came back while the agent was not watching). While
   * an input flaps, `outages` counts the ones that ended since the last event (at most one event a minute): `start` is
   * the first one's, `end` the last one's, `onBatteryMs` and `wh` their sums. `complete`: the agent saw all of them
   * whole. `count24h` / `onBattery24hMs`: the UPS's figures over the last 24 h, this one included.
   */
  outage: OutageBatch & { ups: string; count24h: number; onBattery24hMs: number; at: number };
  /** The agent did not watch this UPS from `from` to `to` (it was down): nothing of that time is guessed. */
  'history-gap': {
    ups: string;
    from: number;
    to: number;
    onBatteryBefore: boolean;
    onBatteryAfter: boolean;
    at: number;
  };
  /** The driver ran a self-test's start command (TRACKING: SUCCESS); the test is followed to its result. */
  'self-test-started': {
    ups: string;
    test: SelfTestType;
    origin: Exclude<SelfTestOrigin, 'ups'>;
    at: number;
  };
  /**
   * A self-test's result (`not-started`: the start command failed, `detail` says how). `test` is null for a test the
   * UPS ran on its own; `startedAt` null when the agent did not start it.
   */
  'self-test': {
    ups: string;
    test: SelfTestType | null;
    result: SelfTestResult | 'not-started';
    detail: string;
    origin: SelfTestOrigin;
    startedAt: number | null;
    at: number;
  };
  /** A scheduled self-test is due but may not start now (`reason`); it starts once it may, within its window. */
  'self-test-deferred': { ups: string; test: SelfTestType; reason: DeferReason; at: number };
  /** A driver process was started. */
  'driver-started': { ups: string; childPid: number; at: number };
  /** The recovery ladder started. */
  recovering: { ups: string; reason: RecoveryReason; attempt: number; at: number };
  /** The driver did not exit after SIGTERM in time and was SIGKILLed. */
  'force-killed': { ups: string; childPid: number; at: number };
  /**
   * Recovery succeeded: fresh data again. `durationMs` counts from the fault's detection; `sinceFreshMs` from the
   * last fresh data before it (the outage as a user saw it), null when there had been none.
   */
  recovered: {
    ups: string;
    reason: RecoveryReason;
    durationMs: number;
    sinceFreshMs: number | null;
    attempt: number;
    at: number;
  };
  /** A recovery attempt failed; next attempt after `retryInMs`. */
  'recovery-failed': {
    ups: string;
    reason: RecoveryReason;
    error: string;
    attempt: number;
    retryInMs: number;
    circuitOpen: boolean;
    /** Why the circuit is open: too many failed recoveries, or a storm of restarts; null while closed. */
    circuitReason: CircuitReason | null;
    at: number;
  };
  /** ups.status changed (from the driver's live feed or a poll, whichever came first). */
  'status-changed': {
    ups: string;
    from: string | undefined;
    to: string;
    source: 'driver' | 'upsd';
    at: number;
  };
  /** New data for a UPS (after a poll or a feed update); the snapshot is a copy. */
  'ups-updated': { snapshot: UpsSnapshot; at: number };
  /** upsd was started or restarted. */
  'upsd-started': { childPid: number; at: number };
  'upsd-exited': {
    childPid: number;
    code: number | null;
    signal: string | null;
    expected: boolean;
    at: number;
  };
  'upsd-restarted': { reason: string; durationMs: number; at: number };
  /** upsd's TCP port stopped answering (connection refused, timeouts) while its process lives. */
  'upsd-unresponsive': { error: string; at: number };
}

export type BusEventName = keyof BusEvents;

// A record, so the compiler insists on exactly the names of BusEvents: a new event fails here until it is listed.
const LISTED: Record<BusEventName, true> = {
  'state-changed': true,
  ready: true,
  stale: true,
  'stale-cleared': true,
  hung: true,
  'driver-exited': true,
  'driver-started': true,
  'driver-spinning': true,
  'usb-reset': true,
  'usb-problem': true,
  'tuning-hint': true,
  outage: true,
  'history-gap': true,
  'self-test-started': true,
  'self-test': true,
  'self-test-deferred': true,
  recovering: true,
  'force-killed': true,
  recovered: true,
  'recovery-failed': true,
  'status-changed': true,
  'ups-updated': true,
  'upsd-started': true,
  'upsd-exited': true,
  'upsd-restarted': true,
  'upsd-unresponsive': true,
};

/** Every bus event name, at run time (for listeners that take them all: the event publisher, test recorders). */
export const BUS_EVENT_NAMES = Object.keys(LISTED) as readonly BusEventName[];

type Listener<K extends BusEventName> = (payload: BusEvents[K]) => void;

/** Typed wrapper around EventEmitter. Listeners are grouped by owner so a module can drop all of its own at stop. */
export class EventBus {
  private readonly emitter = new EventEmitter();
  private readonly owners = new Map<object, Array<[BusEventName, Listener<BusEventName>]>>();

  constructor() {
    // One listener per module per event; many UPSes share them, so the default warning at 10 is noise.
    this.emitter.setMaxListeners(100);
  }

  emit<K extends BusEventName>(event: K, payload: BusEvents[K]): void {
    this.emitter.emit(event, payload);
  }

  on<K extends BusEventName>(event: K, listener: Listener<K>, owner?: object): void {
    this.emitter.on(event, listener);
    if (owner) {
      const list = this.owners.get(owner) ?? [];
      list.push([event, listener as Listener<BusEventName>]);
      this.owners.set(owner, list);
    }
  }

  off<K extends BusEventName>(event: K, listener: Listener<K>): void {
    this.emitter.off(event, listener);
  }

  /** Removes every listener registered with this owner. */
  removeOwner(owner: object): void {
    for (const [event, listener] of this.owners.get(owner) ?? []) this.emitter.off(event, listener);
    this.owners.delete(owner);
  }

  listenerCount(event: BusEventName): number {
    return this.emitter.listenerCount(event);
  }
}
