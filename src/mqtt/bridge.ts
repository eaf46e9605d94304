import { randomUUID } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import type { IPublishPacket } from 'mqtt';
import type { AgentConfigShape } from '../config/schema.js';
import type { BusEventName, BusEvents, EventBus } from '../events.js';
import {
  buildBridgeDiscovery,
  buildDiscovery,
  diffDiscovery,
  discoveryConfigFilter,
  discoveryInputKey,
  ownsDiscoveryConfig,
} from '../homeassistant/discovery.js';
import type {
  DiscoveryContext,
  DiscoveryMessage,
  EntityConfig,
  HaComponent,
} from '../homeassistant/types.js';
import type { Logger } from '../logger.js';
import { instcmdResultTimeoutMs, type Supervisor } from '../supervisor/supervisor.js';
import type { UpsSnapshot } from '../supervisor/types.js';
import { CommandHandler } from './commandHandler.js';
import { MqttConnection } from './connection.js';
import {
  type Availability,
  availabilityOf,
  bridgeInfo,
  eventPayloads,
  stateChangeKey,
  stateJson,
} from './payloads.js';
import { checkUpsName, type Topics, topicsFor } from './topics.js';

export interface BridgeTimings {
  /** Bursts of `ups-updated` (a driver sends its variables one by one) are published as one state message. */
  coalesceMs: number;
  /** Discovery is rebuilt at most this often when a UPS's variables or commands change. */
  discoveryDebounceMs: number;
  /** After `online` on Home Assistant's status topic: republish after a random delay in this range. */
  haOnlineDelayMinMs: number;
  haOnlineDelayMaxMs: number;
  /** How long the start-up scan for leftover discovery configs may take. */
  scanTimeoutMs: number;
  /** MQTT reconnect backoff. */
  backoffInitialMs: number;
  backoffMaxMs: number;
}

export const DEFAULT_BRIDGE_TIMINGS: BridgeTimings = {
  coalesceMs: 50,
  discoveryDebounceMs: 1000,
  haOnlineDelayMinMs: 500,
  haOnlineDelayMaxMs: 3000,
  scanTimeoutMs: 5000,
  backoffInitialMs: 1000,
  backoffMaxMs: 30_000,
};

export interface MqttBridgeDeps {
  config: AgentConfigShape;
  supervisor: Supervisor;
  bus: EventBus;
  logger: Logger;
  agentVersion: string;
  /** upsd's address, for bridge/info. */
  upsd: { host: string; port: number };
  hostname?: string;
  timings?: Partial<BridgeTimings>;
}

/** Events and responses waiting for the broker: bounded, and too old ones are dropped rather than sent late. */
const MAX_QUEUED = 1000;
const MAX_QUEUED_AGE_MS = 10 * 60_000;

// Every bus event, checked by the compiler: a new event in BusEvents fails here until it is listed.
const BUS_EVENTS: Record<BusEventName, true> = {
  'state-changed': true,
  ready: true,
  stale: true,
  'stale-cleared': true,
  hung: true,
  'driver-exited': true,
  'driver-started': true,
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

interface UpsOutput {
  /** State JSON last published, without the ever-changing data age: "changed" compares this. */
  lastStateKey?: string;
  lastAvailability?: Availability;
  /** discoveryInputKey of the last snapshot: discovery is rebuilt only when it changes. */
  discoveryKey?: string;
  timer?: NodeJS.Timeout;
}

interface Scan {
  nonce: string;
  found: Map<string, string>;
  done: () => void;
}

/**
 * The MQTT side of the agent. Listens to the supervisor's event bus and publishes state, availability, events and
 * Home Assistant discovery; turns command messages into calls of the supervisor's public methods. Supervision never
 * waits on it: every publish is fire-and-forget, and nothing queues without bound while the broker is away (on
 * reconnect the current state is republished instead).
 */
export class MqttBridge {
  private readonly deps: MqttBridgeDeps;
  private readonly log: Logger;
  private readonly topics: Topics;
  private readonly timings: BridgeTimings;
  private readonly ctx: DiscoveryContext;
  private readonly connection: MqttConnection;
  private readonly commands: CommandHandler;
  private readonly upsNames: string[];
  private readonly outputs = new Map<string, UpsOutput>();
  private readonly queue: Array<{ topic: string; payload: string; at: number }> = [];
  private droppedWhileOffline = 0;
  private lastDiscovery = new Map<string, string>();
  private scanned = false;
  private scan: Scan | undefined;
  private readonly syncTopic: string;
  private nutVersion: string | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private discoveryTimer: NodeJS.Timeout | undefined;
  private haTimer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;

  constructor(deps: MqttBridgeDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ module: 'mqtt-bridge' });
    const { config } = deps;
    this.topics = topicsFor(config.mqtt.baseTopic);
    this.timings = { ...DEFAULT_BRIDGE_TIMINGS, ...deps.timings };
    const hostname = deps.hostname ?? osHostname();
    this.ctx = {
      baseTopic: config.mqtt.baseTopic,
      discoveryPrefix: config.homeassistant.discoveryPrefix,
      agentId: hostname,
      agentVersion: deps.agentVersion,
      allowedInstcmds: config.mqtt.instcmdAllow,
      origin: { name: 'nut-mqtt', sw_version: deps.agentVersion },
    };
    this.syncTopic = `${this.topics.base}/bridge/sync`;
    this.upsNames = deps.supervisor.upsNames.filter((name) => checkUpsName(name).ok);
    this.connection = new MqttConnection({
      config: config.mqtt,
      logger: deps.logger,
      willTopic: this.topics.bridgeState,
      hostname,
      backoff: { initialMs: this.timings.backoffInitialMs, maxMs: this.timings.backoffMaxMs },
      onConnect: () => this.onConnect(),
      onMessage: (topic, payload, packet) => this.onMessage(topic, payload, packet),
    });
    const t = config.supervisor;
    this.commands = new CommandHandler({
      supervisor: deps.supervisor,
      bus: deps.bus,
      topics: this.topics,
      logger: deps.logger,
      allowedInstcmds: config.mqtt.instcmdAllow,
      cooldownMs: config.mqtt.commandCooldown,
      restartTimeoutMs: t.stopTimeout * 2 + t.verifyTimeout + 10_000,
      // Connect, USERNAME, PASSWORD, SET TRACKING, INSTCMD and the last GET TRACKING may each take a request
      // timeout, plus the wait for the driver's result: past that the command is answered `timeout`.
      instcmdTimeoutMs: t.requestTimeout * 6 + instcmdResultTimeoutMs(t) + 2000,
      upsdRestartTimeoutMs: t.stopTimeout * 2 + 30_000,
      respond: (topic, response) => this.publishEvent(topic, JSON.stringify(response)),
    });
  }

  /** The MQTT connection: whether it is up (health, metrics), and its MQTT.js client for tests. */
  get mqtt(): MqttConnection {
    return this.connection;
  }

  /** Listens to the bus and starts connecting in the background; returns at once, broker or not. */
  start(): void {
    if (this.started) throw new Error('MQTT bridge already started');
    this.started = true;
    for (const name of this.deps.supervisor.upsNames) {
      const check = checkUpsName(name);
      if (!check.ok) this.log.warn(`UPS ${JSON.stringify(name)} is left out of MQTT: ${check.message}`);
    }
    for (const name of this.upsNames) this.outputs.set(name, {});
    for (const event of Object.keys(BUS_EVENTS) as BusEventName[]) {
      this.deps.bus.on(event, (payload) => this.onBusEvent(event, payload), this);
    }
    this.refreshTimer = setInterval(
      () => this.publishAllStates(true),
      this.deps.config.mqtt.stateRefresh * 1000,
    );
    this.connection.start();
  }

  /**
   * Answers pending commands, marks every UPS and then the agent `offline` (retained), and disconnects cleanly.
   * Bounded in time when the broker is gone.
   */
  async stop(): Promise<void> {
    if (!this.started || this.stopped) return;
    this.stopped = true;
    this.deps.bus.removeOwner(this);
    clearInterval(this.refreshTimer);
    clearTimeout(this.discoveryTimer);
    clearTimeout(this.haTimer);
    for (const out of this.outputs.values()) clearTimeout(out.timer);
    this.scan?.done();
    this.commands.stop();
    // The agent stops NUT right after this: the UPS data is about to go away.
    for (const name of this.upsNames) this.publishRetained(this.topics.upsAvailability(name), 'offline');
    await this.connection.stop({ topic: this.topics.bridgeState, payload: 'offline' });
  }

  // --- connection -------------------------------------------------------------------------------------------------

  private onConnect(): void {
    if (this.stopped) return;
    this.publishRetained(this.topics.bridgeState, 'online');
    this.publishInfo();
    this.publishAllStates(true);
    this.flushQueue();
    void this.subscribe();
    if (this.nutVersion === undefined) void this.fetchNutVersion();
    if (this.deps.config.homeassistant.discovery) void this.discoveryOnConnect();
  }

  private async subscribe(): Promise<void> {
    const filters = [this.topics.upsCommandFilter];
    if (this.deps.config.homeassistant.discovery) filters.push(this.deps.config.homeassistant.statusTopic);
    try {
      // MQTT.js re-subscribes by itself after a reconnect; a repeat call here is a no-op.
      await this.connection.subscribe(filters, { qos: 1 });
    } catch (error) {
      if (this.connection.connected)
        this.log.error(
          { err: error, filters },
          `cannot subscribe to ${filters.join(', ')}: commands will not work`,
        );
    }
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    if (this.stopped) return;
    const scan = this.scan;
    if (scan && topic === this.syncTopic) {
      if (payload.toString('utf8') === scan.nonce) scan.done();
      return;
    }
    if (this.isDiscoveryConfigTopic(topic)) {
      if (scan && packet.retain && ownsDiscoveryConfig(topic, payload, this.ctx))
        scan.found.set(topic, payload.toString('utf8'));
      return;
    }
    const { homeassistant } = this.deps.config;
    if (homeassistant.discovery && topic === homeassistant.statusTopic) {
      if (payload.toString('utf8').trim() === 'online') this.scheduleHaRepublish();
      return;
    }
    if (this.isCommandTopic(topic)) this.commands.handle(topic, payload, { retained: packet.retain });
  }

  private isCommandTopic(topic: string): boolean {
    const prefix = `${this.topics.base}/`;
    const suffix = '/command';
    if (!topic.startsWith(prefix) || !topic.endsWith(suffix)) return false;
    // An empty level (`nut//command`) matches our `nut/+/command` subscription too: it is answered unknown-ups.
    const level = topic.slice(prefix.length, topic.length - suffix.length);
    return !level.includes('/');
  }

  private isDiscoveryConfigTopic(topic: string): boolean {
    const levels = topic.split('/');
    return levels.length === 5 && levels[0] === this.ctx.discoveryPrefix && levels[4] === 'config';
  }

  // --- bus events -------------------------------------------------------------------------------------------------

  private onBusEvent<K extends BusEventName>(event: K, payload: BusEvents[K]): void {
    if (this.stopped) return;
    if (event === 'ups-updated') {
      const { snapshot } = payload as BusEvents['ups-updated'];
      this.scheduleState(snapshot.name);
      // New readings change no config; only new variables, commands or identity do (rebuilding all UPSes'
      // discovery on every reading was a third of the agent's CPU at 100 UPSes).
      const out = this.outputs.get(snapshot.name);
      const key = discoveryInputKey(snapshot);
      if (out && key !== out.discoveryKey) {
        out.discoveryKey = key;
        this.scheduleDiscovery();
      }
      return;
    }
    const ups = (payload as { ups?: string }).ups;
    if (ups !== undefined && this.outputs.has(ups)) {
      // A power event must be on MQTT at once; the rest (restart counters, pids) can ride the next burst.
      if (event === 'status-changed' || event === 'state-changed') this.publishState(ups, false);
      else this.scheduleState(ups);
      // Discovery follows a UPS only while its data is fresh (see wantedDiscovery): look again when that changes.
      if (event === 'state-changed') this.scheduleDiscovery();
    }
    for (const json of eventPayloads(event, payload)) {
      const topic =
        json.ups === undefined
          ? this.topics.bridgeEvent
          : this.outputs.has(json.ups)
            ? this.topics.upsEvent(json.ups)
            : undefined;
      if (topic) this.publishEvent(topic, JSON.stringify(json));
    }
  }

  // --- state ------------------------------------------------------------------------------------------------------

  private scheduleState(ups: string): void {
    const out = this.outputs.get(ups);
    if (!out || out.timer) return;
    out.timer = setTimeout(() => {
      out.timer = undefined;
      this.publishState(ups, false);
    }, this.timings.coalesceMs);
  }

  private publishAllStates(force: boolean): void {
    for (const name of this.upsNames) this.publishState(name, force);
  }

  /** `<base>/<ups>` and its availability, when changed (or `force`). Only while connected: a reconnect forces all. */
  private publishState(ups: string, force: boolean): void {
    const out = this.outputs.get(ups);
    const snapshot = this.deps.supervisor.ups(ups)?.snapshot();
    if (!out || !snapshot || !this.connection.connected) return;
    clearTimeout(out.timer);
    out.timer = undefined;
    const json = stateJson(snapshot, Date.now());
    const key = stateChangeKey(json);
    if (force || key !== out.lastStateKey) {
      out.lastStateKey = key;
      this.publishRetained(this.topics.upsState(ups), JSON.stringify(json));
    }
    const availability = availabilityOf(snapshot);
    if (force || availability !== out.lastAvailability) {
      out.lastAvailability = availability;
      this.publishRetained(this.topics.upsAvailability(ups), availability);
    }
  }

  private publishInfo(): void {
    const { config, supervisor } = this.deps;
    const info = bridgeInfo({
      agentVersion: this.deps.agentVersion,
      ...(this.nutVersion === undefined ? {} : { nutVersion: this.nutVersion }),
      upsd: this.deps.upsd,
      upsNames: supervisor.upsNames,
      config: {
        mqtt: { ...config.mqtt, clientId: this.connection.clientId },
        homeassistant: config.homeassistant,
        nut: {
          confPath: config.nut.confPath,
          statePath: config.nut.statePath,
          username: config.nut.username,
          password: config.nut.password,
        },
        supervisor: config.supervisor,
      },
    });
    this.publishRetained(this.topics.bridgeInfo, JSON.stringify(info));
  }

  private async fetchNutVersion(): Promise<void> {
    try {
      const raw = await this.deps.supervisor.client.version();
      this.nutVersion = /\b(\d+\.\d+(?:\.\d+)*\S*)/.exec(raw)?.[1] ?? raw.trim();
      if (!this.stopped) this.publishInfo();
    } catch {
      // upsd not answering yet: the next connect tries again.
    }
  }

  // --- events and responses ---------------------------------------------------------------------------------------

  /** Not retained, QoS 1. While offline: queued (bounded, dropped when too old) and sent on reconnect. */
  private publishEvent(topic: string, payload: string): void {
    if (this.connection.connected) {
      void this.connection.publish(topic, payload, { qos: 1, retain: false });
      return;
    }
    if (this.stopped) return;
    this.queue.push({ topic, payload, at: Date.now() });
    if (this.queue.length > MAX_QUEUED) {
      this.queue.shift();
      this.droppedWhileOffline += 1;
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
      void this.connection.publish(item.topic, item.payload, { qos: 1, retain: false });
  }

  private publishRetained(topic: string, payload: string): void {
    void this.connection.publish(topic, payload, { qos: 1, retain: true });
  }

  // --- Home Assistant discovery -----------------------------------------------------------------------------------

  private scheduleDiscovery(): void {
    if (!this.deps.config.homeassistant.discovery || this.discoveryTimer) return;
    this.discoveryTimer = setTimeout(() => {
      this.discoveryTimer = undefined;
      this.syncDiscovery('changed');
    }, this.timings.discoveryDebounceMs);
  }

  private scheduleHaRepublish(): void {
    if (this.haTimer) return;
    const { haOnlineDelayMinMs: min, haOnlineDelayMaxMs: max } = this.timings;
    const delay = min + Math.random() * Math.max(0, max - min);
    this.log.info(`Home Assistant is online: republishing discovery and state in ${Math.round(delay)} ms`);
    this.haTimer = setTimeout(() => {
      this.haTimer = undefined;
      this.syncDiscovery('all');
      this.publishAllStates(true);
    }, delay);
  }

  /** First connect: find this agent's retained configs on the broker, so leftovers get cleared. Later: resend all. */
  private async discoveryOnConnect(): Promise<void> {
    if (this.scanned) {
      this.syncDiscovery('all');
      return;
    }
    const found = await this.scanRetainedConfigs();
    if (found === undefined || this.stopped || this.scanned) return; // connection lost: the next connect retries
    this.scanned = true;
    this.lastDiscovery = found;
    this.syncDiscovery('changed');
  }

  /**
   * Subscribes to every discovery config topic, keeps the retained ones this agent owns, and knows it has seen them
   * all when its own marker message on `<base>/bridge/sync` comes back (the broker sends retained messages before
   * anything published after the subscription). Undefined when the connection was lost meanwhile.
   */
  private async scanRetainedConfigs(): Promise<Map<string, string> | undefined> {
    this.scan?.done();
    const filters = [discoveryConfigFilter(this.ctx.discoveryPrefix), this.syncTopic];
    let done!: () => void;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    const scan: Scan = { nonce: randomUUID(), found: new Map(), done };
    this.scan = scan;
    let timer: NodeJS.Timeout | undefined;
    try {
      await this.connection.subscribe(filters, { qos: 1 });
      void this.connection.publish(this.syncTopic, scan.nonce, { qos: 1, retain: false });
      const timedOut = await Promise.race([
        finished.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), this.timings.scanTimeoutMs);
        }),
      ]);
      if (timedOut)
        this.log.warn(
          'the broker did not echo the discovery scan marker in time; clearing only what was seen',
        );
      await this.connection.unsubscribe(filters).catch(() => undefined);
    } catch (error) {
      if (!this.connection.connected) return undefined;
      // Refused (an ACL on the discovery prefix, say): publish anyway; leftovers cannot be found.
      this.log.warn(
        { err: error },
        'cannot read retained discovery configs: leftovers of removed UPSes stay',
      );
    } finally {
      clearTimeout(timer);
      if (this.scan === scan) this.scan = undefined;
    }
    if (!this.connection.connected) return undefined;
    this.log.info(
      { found: scan.found.size },
      `found ${scan.found.size} retained discovery config(s) of this agent on the broker`,
    );
    return scan.found;
  }

  /** Diffs the full wanted set against what was last sent: clears what is gone, publishes what changed (or all). */
  private syncDiscovery(mode: 'changed' | 'all'): void {
    if (!this.deps.config.homeassistant.discovery || !this.scanned || !this.connection.connected) return;
    const diff = diffDiscovery(this.lastDiscovery, this.wantedDiscovery());
    for (const topic of diff.clear) this.publishRetained(topic, '');
    const publish =
      mode === 'all' ? [...diff.next].map(([topic, payload]) => ({ topic, payload })) : diff.publish;
    for (const { topic, payload } of publish) this.publishRetained(topic, payload);
    if (diff.clear.length > 0 || publish.length > 0)
      this.log.debug(
        { published: publish.length, cleared: diff.clear.length },
        `discovery: ${publish.length} published, ${diff.clear.length} cleared`,
      );
    this.lastDiscovery = diff.next;
  }

  /**
   * Everything this agent should have on the broker. A UPS without fresh data (driver starting or restarting, when
   * upsd serves little more than `ups.status: WAIT`) keeps what was sent for it before: rebuilding it from that
   * snapshot would delete its sensors from Home Assistant until the data is back, and with them the user's entity
   * settings.
   */
  private wantedDiscovery(): DiscoveryMessage[] {
    const messages = buildBridgeDiscovery(this.ctx);
    for (const name of this.upsNames) {
      const snapshot: UpsSnapshot | undefined = this.deps.supervisor.ups(name)?.snapshot();
      if (!snapshot) continue;
      const built = buildDiscovery(snapshot, this.ctx);
      if (snapshot.supervisor.state !== 'ok') {
        const nodeId = built[0]?.topic.split('/')[2];
        const kept = [...this.lastDiscovery].filter(([topic]) => topic.split('/')[2] === nodeId);
        if (nodeId !== undefined && kept.length > 0) {
          messages.push(...kept.map(([topic, payload]) => keptMessage(topic, payload)));
          continue;
        }
      }
      messages.push(...built);
    }
    return messages;
  }
}

function keptMessage(topic: string, payload: string): DiscoveryMessage {
  return {
    topic,
    component: topic.split('/')[1] as HaComponent,
    payload: JSON.parse(payload) as EntityConfig,
  };
}
