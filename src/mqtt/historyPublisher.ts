import type { Topics } from '../api/topics.js';
import type { BusEventName, EventBus } from '../events.js';
import type { Extension } from '../extension.js';
import type { HistoryExtension } from '../history/historyExtension.js';
import { historyChangeKey, historyJson } from '../history/historyJson.js';
import type { SelfTestExtension } from '../history/selfTestExtension.js';
import type { SupervisorPort } from '../supervisor/port.js';
import type { MqttConnection } from './connection.js';

export interface HistoryPublisherDeps {
  connection: MqttConnection;
  supervisor: Pick<SupervisorPort, 'snapshot'>;
  bus: EventBus;
  topics: Topics;
  upsNames: readonly string[];
  history: Pick<HistoryExtension, 'figures' | 'lastSelfTest' | 'onChange'>;
  selfTests: Pick<SelfTestExtension, 'view'>;
  /** BATTERY_LIFE_MONTHS. */
  lifeMonths: number;
  /** At most one message per UPS this often: a flapping input does not flood the topic. */
  minIntervalMs: number;
  /** While on battery, the live time on battery is republished this often. */
  liveIntervalMs: number;
  /** Everything is republished this often (MQTT_STATE_REFRESH_INTERVAL): ages and windows move with the clock. */
  refreshIntervalMs: number;
}

interface Output {
  lastKey?: string;
  lastAt: number;
  timer?: NodeJS.Timeout;
  force: boolean;
}

/** What of a UPS's own events can change its history state. */
const UPS_EVENTS: readonly BusEventName[] = [
  'status-changed',
  'state-changed',
  'outage',
  'history-gap',
  'self-test-started',
  'self-test',
];

/**
 * Retained `<base>/<ups>/history` (UpsHistoryJson): published when it changes, at most every `minIntervalMs` per UPS
 * (the last state always gets out), every `liveIntervalMs` while on battery, on every connect and refresh.
 */
export class HistoryPublisher implements Extension {
  readonly name = 'mqtt-history';
  private readonly deps: HistoryPublisherDeps;
  private readonly outputs = new Map<string, Output>();
  private readonly removers: Array<() => void> = [];
  private liveTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(deps: HistoryPublisherDeps) {
    this.deps = deps;
  }

  async start(): Promise<void> {
    const { bus, connection, history, upsNames } = this.deps;
    for (const ups of upsNames) this.outputs.set(ups, { lastAt: 0, force: false });
    bus.on('ups-updated', (e) => this.request(e.snapshot.name, false), this);
    for (const event of UPS_EVENTS)
      bus.on(event, (p) => this.request((p as { ups: string }).ups, false), this);
    this.removers.push(
      history.onChange((ups) => this.request(ups, false)),
      connection.onConnect(() => this.republishAll()),
    );
    this.liveTimer = setInterval(() => {
      for (const ups of this.outputs.keys())
        if (this.deps.history.figures(ups)?.onBattery) this.request(ups, true);
    }, this.deps.liveIntervalMs);
    this.refreshTimer = setInterval(() => this.republishAll(), this.deps.refreshIntervalMs);
  }

  async stop(): Promise<void> {
    this.deps.bus.removeOwner(this);
    for (const remove of this.removers.splice(0)) remove();
    clearInterval(this.liveTimer);
    clearInterval(this.refreshTimer);
    for (const out of this.outputs.values()) clearTimeout(out.timer);
    this.outputs.clear();
  }

  /** Every UPS's history state, changed or not (on connect, refresh, Home Assistant's `online`). */
  republishAll(): void {
    for (const ups of this.outputs.keys()) this.request(ups, true);
  }

  private request(ups: string, force: boolean): void {
    const out = this.outputs.get(ups);
    if (!out) return;
    out.force ||= force;
    if (out.timer) return;
    const delay = Math.max(0, out.lastAt + this.deps.minIntervalMs - Date.now());
    out.timer = setTimeout(() => {
      out.timer = undefined;
      this.publish(ups, out);
    }, delay);
  }

  private publish(ups: string, out: Output): void {
    const { connection, supervisor, history, selfTests, topics } = this.deps;
    const snapshot = supervisor.snapshot(ups);
    if (!snapshot || !connection.connected) return;
    const now = Date.now();
    const json = historyJson({
      figures: history.figures(ups, now),
      selfTest: history.lastSelfTest(ups),
      tests: selfTests.view(ups, now),
      vars: snapshot.vars,
      lifeMonths: this.deps.lifeMonths,
      now,
    });
    const key = historyChangeKey(json);
    if (!out.force && key === out.lastKey) return;
    out.force = false;
    out.lastKey = key;
    out.lastAt = now;
    void connection.publish(topics.upsHistory(ups), JSON.stringify(json), { qos: 1, retain: true });
  }
}
