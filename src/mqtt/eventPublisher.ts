import type { Topics } from '../api/topics.js';
import { BUS_EVENT_NAMES, type BusEventName, type BusEvents, type EventBus } from '../events.js';
import type { Extension } from '../extension.js';
import type { Logger } from '../logger.js';
import type { MqttConnection } from './connection.js';
import { eventPayloads } from './eventPayloads.js';

export interface EventPublisherDeps {
  connection: MqttConnection;
  bus: EventBus;
  topics: Topics;
  /** The UPSes that have topics: events of other UPSes are not published. */
  upsNames: readonly string[];
  logger: Logger;
}

/**
 * While the broker is unreachable, events and command responses wait here: the last MAX_QUEUED, each at most
 * MAX_QUEUED_AGE_MS old when the broker is back. An alert about a power cut ten minutes ago is still news; one
 * from an hour ago would only mislead, and the current state is republished on connect anyway.
 */
const MAX_QUEUED = 1000;
const MAX_QUEUED_AGE_MS = 10 * 60_000;

/**
 * `<base>/<ups>/event` and `<base>/bridge/event`: one JSON object per bus event (see eventPayloads), not retained,
 * QoS 1. Also sends the command responses (the same kind of message: not retained, queued while offline).
 */
export class EventPublisher implements Extension {
  readonly name = 'mqtt-events';
  private readonly deps: EventPublisherDeps;
  private readonly log: Logger;
  private readonly queue: Array<{ topic: string; payload: string; at: number }> = [];
  private droppedWhileOffline = 0;
  private known = new Set<string>();
  private removeConnectListener: (() => void) | undefined;
  private stopped = false;

  constructor(deps: EventPublisherDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ module: 'mqtt-events' });
  }

  async start(): Promise<void> {
    const { bus, connection } = this.deps;
    this.known = new Set(this.deps.upsNames);
    for (const event of BUS_EVENT_NAMES) bus.on(event, (payload) => this.onBusEvent(event, payload), this);
    this.removeConnectListener = connection.onConnect(() => this.flushQueue());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.deps.bus.removeOwner(this);
    this.removeConnectListener?.();
    this.queue.length = 0;
  }

  /** Not retained, QoS 1. While offline: queued (bounded, dropped when too old) and sent on reconnect. */
  publish(topic: string, payload: string): void {
    const { connection } = this.deps;
    if (connection.connected) {
      void connection.publish(topic, payload, { qos: 1, retain: false });
      return;
    }
    if (this.stopped) return;
    this.queue.push({ topic, payload, at: Date.now() });
    if (this.queue.length > MAX_QUEUED) {
      this.queue.shift();
      this.droppedWhileOffline += 1;
    }
  }

  private onBusEvent<K extends BusEventName>(event: K, payload: BusEvents[K]): void {
    const { topics } = this.deps;
    for (const json of eventPayloads(event, payload)) {
      if (!('ups' in json)) this.publish(topics.bridgeEvent, JSON.stringify(json));
      else if (this.known.has(json.ups)) this.publish(topics.upsEvent(json.ups), JSON.stringify(json));
    }
  }

  private flushQueue(): void {
    const now = Date.now();
    const queued = this.queue.splice(0);
    const fresh = queued.filter((item) => now - item.at <= MAX_QUEUED_AGE_MS);
    const dropped = this.droppedWhileOffline + queued.length - fresh.length;
    this.droppedWhileOffline = 0;
    if (dropped > 0)
      this.log.warn({ dropped }, `${dropped} event(s) from while the broker was unreachable were dropped`);
    for (const item of fresh)
      void this.deps.connection.publish(item.topic, item.payload, { qos: 1, retain: false });
  }
}
