// The outside view: one real MQTT.js client subscribed to `<base>/#` for the whole soak, as Home Assistant or
// Node-RED would be. It keeps what the soak needs (not every message): the availability history per UPS, the
// newest state JSON, the agent's UPS events, command responses and its own (re)connects.
import { randomUUID } from 'node:crypto';
import { connectAsync, type MqttClient } from 'mqtt';

export interface Stamped<T> {
  t: number;
  value: T;
}

export interface UpsEvent {
  t: number;
  ups: string;
  type: string;
  json: Record<string, unknown>;
}

export interface StateJson {
  'ups.status'?: string;
  supervisor?: { state?: string; restarts?: number };
  [key: string]: unknown;
}

export class MqttWatch {
  readonly availability = new Map<string, Stamped<string>[]>();
  readonly states = new Map<string, Stamped<StateJson>>();
  readonly events: UpsEvent[] = [];
  readonly responses = new Map<string, Stamped<Record<string, unknown>>>();
  readonly bridgeState: Stamped<string>[] = [];
  /** When this client (re)connected. */
  readonly connects: number[] = [];
  messages = 0;

  private constructor(
    private readonly client: MqttClient,
    readonly base: string,
  ) {
    client.on('connect', () => this.connects.push(Date.now()));
    client.on('message', (topic, payload) => this.onMessage(topic, payload.toString('utf8')));
  }

  static async connect(url: string, base: string): Promise<MqttWatch> {
    const client = await connectAsync(url, {
      protocolVersion: 5,
      clientId: `soak_observer_${randomUUID().slice(0, 8)}`,
      reconnectPeriod: 250,
      connectTimeout: 5000,
    });
    const watch = new MqttWatch(client, base);
    watch.connects.push(Date.now());
    // QoS 1; MQTT.js subscribes again by itself after a reconnect (and the broker then sends what is retained).
    await client.subscribeAsync(`${base}/#`, { qos: 1 });
    return watch;
  }

  private onMessage(topic: string, text: string): void {
    this.messages += 1;
    const t = Date.now();
    if (!topic.startsWith(`${this.base}/`)) return;
    const levels = topic.slice(this.base.length + 1).split('/');
    const [ups, sub, sub2] = levels;
    if (ups === undefined) return;
    if (ups === 'bridge') {
      if (sub === 'state' && levels.length === 2) this.bridgeState.push({ t, value: text });
      return;
    }
    if (levels.length === 1) {
      const json = parseJson(text);
      if (json) this.states.set(ups, { t, value: json as StateJson });
    } else if (sub === 'availability' && levels.length === 2) {
      const list = this.availability.get(ups) ?? [];
      list.push({ t, value: text });
      this.availability.set(ups, list);
    } else if (sub === 'event' && levels.length === 2) {
      const json = parseJson(text);
      if (json && typeof json.type === 'string') this.events.push({ t, ups, type: json.type, json });
    } else if (sub === 'command' && sub2 === 'response' && levels.length === 3) {
      const json = parseJson(text);
      const tx = json?.transaction;
      if (json && (typeof tx === 'string' || typeof tx === 'number'))
        this.responses.set(String(tx), { t, value: json });
    }
  }

  /** The newest availability message of a UPS. */
  latestAvailability(ups: string): string | undefined {
    return this.availability.get(ups)?.at(-1)?.value;
  }

  /**
   * When `ups` was seen `online` again after `since`: with `afterOffline`, the first `online` that follows an
   * `offline` received after `since` (the agent noticed the fault, then had fresh data again); otherwise the first
   * `online` received after `since`.
   */
  onlineAt(ups: string, since: number, afterOffline: boolean): number | undefined {
    let armed = !afterOffline;
    for (const m of this.availability.get(ups) ?? []) {
      if (m.t < since) continue;
      if (m.value === 'offline') armed = true;
      else if (m.value === 'online' && armed) return m.t;
    }
    return undefined;
  }

  /** The first time this client connected after `since` (a broker restart makes it reconnect). */
  reconnectedAt(since: number): number | undefined {
    return this.connects.find((t) => t > since);
  }

  eventsOf(
    ups: string | undefined,
    type: string,
    since: number,
    until = Number.POSITIVE_INFINITY,
  ): UpsEvent[] {
    return this.events.filter(
      (e) => e.type === type && e.t >= since && e.t <= until && (ups === undefined || e.ups === ups),
    );
  }

  get connected(): boolean {
    return this.client.connected;
  }

  async publish(topic: string, payload: string): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1, retain: false });
  }

  async stop(): Promise<void> {
    await this.client.endAsync(true);
  }
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
