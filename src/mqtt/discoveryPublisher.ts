import type { Topics } from '../api/topics.js';
import type { EventBus } from '../events.js';
import type { Extension } from '../extension.js';
import {
  diffDiscovery,
  discoveryConfigFilter,
  discoveryInputKey,
  isDiscoveryConfigTopic,
  ownsDiscoveryConfig,
  wantedDiscovery,
} from '../homeassistant/discovery.js';
import type { DiscoveryContext } from '../homeassistant/types.js';
import type { Logger } from '../logger.js';
import type { SupervisorPort } from '../supervisor/port.js';
import type { UpsSnapshot } from '../supervisor/types.js';
import type { MqttConnection } from './connection.js';
import { scanRetained } from './retainedScan.js';
import type { MqttTimings } from './timings.js';

export interface DiscoveryPublisherDeps {
  connection: MqttConnection;
  supervisor: Pick<SupervisorPort, 'snapshot'>;
  bus: EventBus;
  topics: Topics;
  /** The UPSes that have topics. */
  upsNames: readonly string[];
  ctx: DiscoveryContext;
  /** Home Assistant's birth/last-will topic (HA_STATUS_TOPIC). */
  statusTopic: string;
  timings: Pick<
    MqttTimings,
    'discoveryDebounceMs' | 'haOnlineDelayMinMs' | 'haOnlineDelayMaxMs' | 'scanTimeoutMs'
  >;
  /** Republishes every UPS's state: after Home Assistant's `online`, it has forgotten them. */
  republishState: () => void;
  logger: Logger;
}

/**
 * Home Assistant discovery over MQTT: the pure builders, keep rule and diff of src/homeassistant, performed. At the
 * first connect it reads back this agent's retained configs (so those of a UPS removed from ups.conf get cleared),
 * then publishes what changed; later connects and Home Assistant's `online` resend everything. A UPS's discovery is
 * rebuilt only when what it depends on changes (discoveryInputKey) or its supervision state does (the keep rule).
 */
export class DiscoveryPublisher implements Extension {
  readonly name = 'homeassistant-discovery';
  private readonly deps: DiscoveryPublisherDeps;
  private readonly log: Logger;
  /** discoveryInputKey of each UPS's last snapshot. */
  private readonly inputKeys = new Map<string, string>();
  /** What was last sent (topic → stable JSON): the `previous` of the next diff. */
  private lastSent = new Map<string, string>();
  private scanned = false;
  private scan: AbortController | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private haTimer: NodeJS.Timeout | undefined;
  private readonly removers: Array<() => void> = [];
  private stopped = false;

  constructor(deps: DiscoveryPublisherDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ module: 'homeassistant' });
  }

  async start(): Promise<void> {
    const { bus, connection } = this.deps;
    bus.on('ups-updated', (e) => this.onUpdated(e.snapshot), this);
    // Discovery follows a UPS only while its data is fresh (the keep rule): look again when that changes.
    bus.on('state-changed', () => this.schedule(), this);
    this.removers.push(
      connection.onConnect(() => void this.onConnect()),
      connection.onMessage((topic, payload) => {
        if (topic === this.deps.statusTopic && payload.toString('utf8').trim() === 'online')
          this.scheduleHaRepublish();
      }),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.deps.bus.removeOwner(this);
    for (const remove of this.removers.splice(0)) remove();
    clearTimeout(this.debounceTimer);
    clearTimeout(this.haTimer);
    this.scan?.abort();
  }

  private onUpdated(snapshot: UpsSnapshot): void {
    // New readings change no config; only new variables, commands or identity do (rebuilding all UPSes'
    // discovery on every reading was a third of the agent's CPU at 100 UPSes).
    if (!this.deps.upsNames.includes(snapshot.name)) return;
    const key = discoveryInputKey(snapshot);
    if (key === this.inputKeys.get(snapshot.name)) return;
    this.inputKeys.set(snapshot.name, key);
    this.schedule();
  }

  private async onConnect(): Promise<void> {
    const { connection, statusTopic } = this.deps;
    connection.subscribe([statusTopic], { qos: 1 }).catch((error: unknown) => {
      if (connection.connected)
        this.log.error(
          { err: error, topic: statusTopic },
          `cannot subscribe to ${statusTopic}: a restart of Home Assistant will not be noticed`,
        );
    });
    if (this.scanned) {
      this.sync('all');
      return;
    }
    const found = await this.scanRetainedConfigs();
    if (found === undefined || this.stopped || this.scanned) return; // connection lost: the next connect retries
    this.scanned = true;
    this.lastSent = found;
    this.sync('changed');
  }

  private scanRetainedConfigs(): Promise<Map<string, string> | undefined> {
    const { ctx, connection } = this.deps;
    this.scan?.abort();
    this.scan = new AbortController();
    return scanRetained({
      connection,
      filter: discoveryConfigFilter(ctx.discoveryPrefix),
      syncTopic: this.deps.topics.bridgeSync,
      keep: (topic, payload) =>
        isDiscoveryConfigTopic(topic, ctx.discoveryPrefix) && ownsDiscoveryConfig(topic, payload, ctx),
      timeoutMs: this.deps.timings.scanTimeoutMs,
      logger: this.log,
      signal: this.scan.signal,
    });
  }

  private schedule(): void {
    if (this.debounceTimer || this.stopped) return;
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      this.sync('changed');
    }, this.deps.timings.discoveryDebounceMs);
  }

  private scheduleHaRepublish(): void {
    if (this.haTimer || this.stopped) return;
    const { haOnlineDelayMinMs: min, haOnlineDelayMaxMs: max } = this.deps.timings;
    const delay = min + Math.random() * Math.max(0, max - min);
    this.log.info(`Home Assistant is online: republishing discovery and state in ${Math.round(delay)} ms`);
    this.haTimer = setTimeout(() => {
      this.haTimer = undefined;
      this.sync('all');
      this.deps.republishState();
    }, delay);
  }

  /** Diffs the full wanted set against what was last sent: clears what is gone, publishes what changed (or all). */
  private sync(mode: 'changed' | 'all'): void {
    const { connection, supervisor, upsNames, ctx } = this.deps;
    if (!this.scanned || !connection.connected) return;
    const snapshots = upsNames.flatMap((name) => supervisor.snapshot(name) ?? []);
    const diff = diffDiscovery(this.lastSent, wantedDiscovery(snapshots, this.lastSent, ctx));
    const publish =
      mode === 'all' ? [...diff.next].map(([topic, payload]) => ({ topic, payload })) : diff.publish;
    const retained = { qos: 1, retain: true } as const;
    for (const topic of diff.clear) void connection.publish(topic, '', retained);
    for (const { topic, payload } of publish) void connection.publish(topic, payload, retained);
    if (diff.clear.length > 0 || publish.length > 0)
      this.log.debug(
        { published: publish.length, cleared: diff.clear.length },
        `discovery: ${publish.length} published, ${diff.clear.length} cleared`,
      );
    this.lastSent = diff.next;
  }
}
