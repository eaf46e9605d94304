// The outside MQTT subscriber of the scale bench: one MQTT.js client on `<base>/#` (QoS 1) that counts messages,
// keeps the last availability of every UPS, and hands each UPS state message to a listener (the change tracker).
import { connectAsync, type MqttClient } from 'mqtt';

export type StateListener = (ups: string, state: Record<string, unknown>, t: number) => void;

export class MqttWatcher {
  /** Every message received, with its arrival time. */
  readonly arrivals: number[] = [];
  readonly availability = new Map<string, string>();
  private listener: StateListener | undefined;
  private readonly upsNames: Set<string>;

  private constructor(
    private readonly client: MqttClient,
    readonly base: string,
    upsNames: readonly string[],
  ) {
    this.upsNames = new Set(upsNames);
  }

  static async start(url: string, base: string, upsNames: readonly string[]): Promise<MqttWatcher> {
    const client = await connectAsync(url, {
      protocolVersion: 5,
      clientId: `scale_watcher_${process.pid}_${Math.random().toString(16).slice(2, 8)}`,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
    });
    const watcher = new MqttWatcher(client, base, upsNames);
    client.on('message', (topic, payload) => watcher.onMessage(topic, payload));
    await client.subscribeAsync(`${base}/#`, { qos: 1 });
    return watcher;
  }

  /** Receives every `<base>/<ups>` state message, parsed (only while set). */
  onState(listener: StateListener | undefined): void {
    this.listener = listener;
  }

  /** Messages that arrived in [from, to). */
  countBetween(from: number, to: number): number {
    let n = 0;
    for (const t of this.arrivals) if (t >= from && t < to) n++;
    return n;
  }

  allOnline(): boolean {
    for (const ups of this.upsNames) if (this.availability.get(ups) !== 'online') return false;
    return true;
  }

  onlineCount(): number {
    let n = 0;
    for (const ups of this.upsNames) if (this.availability.get(ups) === 'online') n++;
    return n;
  }

  private onMessage(topic: string, payload: Buffer): void {
    const t = Date.now();
    this.arrivals.push(t);
    if (!topic.startsWith(`${this.base}/`)) return;
    const levels = topic.slice(this.base.length + 1).split('/');
    const ups = levels[0] ?? '';
    if (!this.upsNames.has(ups)) return;
    if (levels.length === 2 && levels[1] === 'availability') {
      this.availability.set(ups, payload.toString('utf8'));
    } else if (levels.length === 1 && this.listener) {
      try {
        this.listener(ups, JSON.parse(payload.toString('utf8')) as Record<string, unknown>, t);
      } catch {
        // not JSON: not a state message we can use
      }
    }
  }

  async stop(): Promise<void> {
    await this.client.endAsync(true);
  }
}
