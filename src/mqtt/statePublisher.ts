import type { Availability } from '../api/payloads.js';
import type { Topics } from '../api/topics.js';
import type { EnergyReading } from '../energy/energyMeter.js';
import { BUS_EVENT_NAMES, type BusEventName, type EventBus } from '../events.js';
import type { Extension } from '../extension.js';
import type { EpisodeCounts } from '../hints/episodeCounter.js';
import type { SupervisorPort } from '../supervisor/port.js';
import type { UpsSnapshot } from '../supervisor/types.js';
import type { MqttConnection } from './connection.js';
import { availabilityOf, stateChangeKey, stateJson } from './payloads.js';

export interface StatePublisherDeps {
  connection: MqttConnection;
  supervisor: Pick<SupervisorPort, 'snapshot'>;
  bus: EventBus;
  topics: Topics;
  /** The UPSes that have topics (names that can be a topic level). */
  upsNames: readonly string[];
  /** Bursts of `ups-updated` within this are published as one message. */
  coalesceMs: number;
  /** Every state is republished this often even when nothing changed (MQTT_STATE_REFRESH_INTERVAL). */
  refreshIntervalMs: number;
  /** The UPS's power and energy total (the energy meter), when it has a power source. */
  energy?: (snapshot: UpsSnapshot) => EnergyReading | undefined;
  /** The UPS's fault episodes in the last 24 h (the tuning hints' counter). */
  episodes?: (ups: string) => EpisodeCounts;
}

interface UpsOutput {
  /** State JSON last published, without the ever-changing data age: "changed" compares this. */
  lastStateKey?: string;
  lastAvailability?: Availability;
  timer?: NodeJS.Timeout;
}

/**
 * Retained `<base>/<ups>` (the state JSON) and `<base>/<ups>/availability`: when something changed (a burst of
 * updates bundled; a status or supervision change at once), all of them on every connect and every refresh
 * interval, and `offline` for every UPS on stop (NUT is stopped next). Nothing is queued while the broker is away:
 * the next connect republishes the current state instead.
 */
export class StatePublisher implements Extension {
  readonly name = 'mqtt-state';
  private readonly deps: StatePublisherDeps;
  private readonly outputs = new Map<string, UpsOutput>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private removeConnectListener: (() => void) | undefined;

  constructor(deps: StatePublisherDeps) {
    this.deps = deps;
  }

  async start(): Promise<void> {
    const { bus, connection, upsNames } = this.deps;
    for (const name of upsNames) this.outputs.set(name, {});
    bus.on('ups-updated', (e) => this.schedule(e.snapshot.name), this);
    for (const event of BUS_EVENT_NAMES) bus.on(event, (payload) => this.onUpsEvent(event, payload), this);
    this.refreshTimer = setInterval(() => this.republishAll(), this.deps.refreshIntervalMs);
    this.removeConnectListener = connection.onConnect(() => this.republishAll());
  }

  async stop(): Promise<void> {
    this.deps.bus.removeOwner(this);
    this.removeConnectListener?.();
    clearInterval(this.refreshTimer);
    for (const out of this.outputs.values()) clearTimeout(out.timer);
    // The agent stops NUT right after this: the UPS data is about to go away. (A UPS whose supervision already
    // stopped has said `offline`: once is enough.)
    for (const [name, out] of this.outputs)
      if (out.lastAvailability !== 'offline')
        void this.deps.connection.publish(this.deps.topics.upsAvailability(name), 'offline', {
          qos: 1,
          retain: true,
        });
    this.outputs.clear();
  }

  /** Every UPS's state and availability, changed or not (on connect, refresh, Home Assistant's `online`). */
  republishAll(): void {
    for (const name of this.outputs.keys()) this.publish(name, true);
  }

  /** Any event of a UPS changes something of its state (counters, pids, the supervision state). */
  private onUpsEvent(event: BusEventName, payload: unknown): void {
    const ups = (payload as { ups?: string }).ups;
    if (ups === undefined) return; // upsd's events; ups-updated has its own listener
    // A power event must be on MQTT at once; the rest (restart counters, pids) can ride the next burst.
    if (event === 'status-changed' || event === 'state-changed') this.publish(ups, false);
    else this.schedule(ups);
  }

  private schedule(ups: string): void {
    const out = this.outputs.get(ups);
    if (!out || out.timer) return;
    out.timer = setTimeout(() => {
      out.timer = undefined;
      this.publish(ups, false);
    }, this.deps.coalesceMs);
  }

  /** `<base>/<ups>` and its availability, when changed (or `force`). Only while connected: a reconnect forces all. */
  private publish(ups: string, force: boolean): void {
    const { connection, topics } = this.deps;
    const out = this.outputs.get(ups);
    const snapshot = this.deps.supervisor.snapshot(ups);
    if (!out || !snapshot || !connection.connected) return;
    clearTimeout(out.timer);
    out.timer = undefined;
    const json = stateJson(snapshot, Date.now(), this.deps.energy?.(snapshot), this.deps.episodes?.(ups));
    const key = stateChangeKey(json);
    const retained = { qos: 1, retain: true } as const;
    if (force || key !== out.lastStateKey) {
      out.lastStateKey = key;
      void connection.publish(topics.upsState(ups), JSON.stringify(json), retained);
    }
    const availability = availabilityOf(snapshot);
    if (force || availability !== out.lastAvailability) {
      out.lastAvailability = availability;
      void connection.publish(topics.upsAvailability(ups), availability, retained);
    }
  }
}
