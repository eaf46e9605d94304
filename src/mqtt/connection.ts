import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import {
  connect,
  type IClientOptions,
  type IClientSubscribeOptions,
  type IPublishPacket,
  type MqttClient,
} from 'mqtt';
import type { Availability } from '../api/payloads.js';
import { type Backoff, backoffDelay, RETRY_BACKOFF } from '../backoff.js';
import { maskUrlCredentials } from '../config/load.js';
import type { AgentConfigShape } from '../config/schema.js';
import type { Extension } from '../extension.js';
import type { Logger } from '../logger.js';

export type MqttSettings = AgentConfigShape['mqtt'];

export interface PublishOptions {
  qos: 0 | 1;
  retain: boolean;
}

export interface MqttConnectionDeps {
  config: MqttSettings;
  logger: Logger;
  /**
   * The bridge state topic: `online` (retained, QoS 1) on every connect, `offline` on a clean stop and as the last
   * will.
   */
  willTopic: string;
  hostname?: string;
  /** Reconnect backoff; RETRY_BACKOFF (1 s doubling to 30 s) unless a test wants it faster. */
  backoff?: Backoff;
}

export type MessageListener = (topic: string, payload: Buffer, packet: IPublishPacket) => void;

const ONLINE: Availability = 'online';
const OFFLINE: Availability = 'offline';
/** Largest packet the broker may send us (MQTT 5): command payloads over 1 KiB are refused anyway. */
const MAX_INCOMING_PACKET = 256 * 1024;
/** How long a clean stop waits for the broker (PUBACK of `offline`, then DISCONNECT): a dead one cannot hold it up. */
const STOP_TIMEOUT_MS = 3000;
/** Seconds between PINGREQs: a half-open connection is noticed within 1.5 × this (MQTT's keep-alive rule). */
const KEEPALIVE_S = 30;
/** A broker that accepted TCP but sends no CONNACK within this is given up on, and the backoff goes on. */
const CONNECT_TIMEOUT_MS = 15_000;

/**
 * `nut-mqtt_<base>_<host>`: stable across restarts (a broker keeps one session per id) and distinct per host, in
 * the conservative alphabet every broker accepts (MQTT 3.1.1 only promises `[0-9a-zA-Z]`, ≤ 23 bytes; Mosquitto
 * and the rest take longer ids with `_` and `-`).
 */
export function defaultClientId(baseTopic: string, hostname: string): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
  return `nut-mqtt_${clean(baseTopic) || 'nut'}_${clean(hostname) || 'host'}`.slice(0, 128);
}

/** MQTT.js options from the settings. Reads the TLS files (load.ts has already checked they are readable). */
export function clientOptions(
  config: MqttSettings,
  opts: { willTopic: string; hostname: string; reconnectPeriod: number },
): IClientOptions {
  const options: IClientOptions = {
    protocolVersion: config.protocolVersion === 4 ? 4 : 5,
    clientId: config.clientId || defaultClientId(config.baseTopic, opts.hostname),
    clean: true,
    keepalive: KEEPALIVE_S,
    connectTimeout: CONNECT_TIMEOUT_MS,
    reconnectPeriod: opts.reconnectPeriod,
    // Bad credentials are retried with backoff too: the broker's password file may be fixed without restarting us.
    reconnectOnConnackError: true,
    resubscribe: true,
    will: { topic: opts.willTopic, payload: Buffer.from(OFFLINE), qos: 1, retain: true },
    rejectUnauthorized: config.rejectUnauthorized,
  };
  if (options.protocolVersion === 5) options.properties = { maximumPacketSize: MAX_INCOMING_PACKET };
  if (config.username) options.username = config.username;
  if (config.password) options.password = config.password;
  if (config.caFile) options.ca = readFileSync(config.caFile);
  if (config.certFile) options.cert = readFileSync(config.certFile);
  if (config.keyFile) options.key = readFileSync(config.keyFile);
  return options;
}

/** MQTT 5 reason codes and MQTT 3.1.1 return codes a CONNACK uses to refuse credentials. */
const CREDENTIAL_CODES: Record<number, string> = {
  4: 'bad user name or password',
  5: 'not authorized',
  134: 'bad user name or password',
  135: 'not authorized',
};

export interface ConnectFailure {
  /** Same key = same failure: logged once, however often the retry hits it. */
  key: string;
  level: 'warn' | 'error';
  message: string;
}

/** What a connection error means for the log. Never includes the password. */
export function describeFailure(error: unknown, config: MqttSettings): ConnectFailure {
  const err = error as { code?: unknown; message?: unknown };
  const message = String(err.message ?? error);
  const code = err.code;
  if (typeof code === 'number' && message.startsWith('Connection refused')) {
    const credentials = CREDENTIAL_CODES[code];
    if (credentials) {
      const who = config.username
        ? `user "${config.username}"${config.password ? '' : ' without a password'}`
        : 'no user name';
      return {
        key: `connack-${code}`,
        level: 'error',
        message: `MQTT broker refused the credentials (${credentials}; ${who}): check MQTT_USERNAME and MQTT_PASSWORD (or MQTT_PASSWORD_FILE)`,
      };
    }
    return {
      key: `connack-${code}`,
      level: 'error',
      message: `MQTT broker refused the connection: ${message}`,
    };
  }
  if (typeof code === 'string') {
    const tls = /CERT|SELF_SIGNED|TLS|SSL|ALTNAME|VERIFY/i.test(code);
    return {
      key: code,
      level: tls ? 'error' : 'warn',
      message: tls
        ? `TLS with the MQTT broker failed (${code}: ${message}): check MQTT_CA_FILE, MQTT_CERT_FILE, MQTT_KEY_FILE, MQTT_REJECT_UNAUTHORIZED`
        : `cannot reach the MQTT broker (${code}: ${message})`,
    };
  }
  return { key: message, level: 'warn', message: `MQTT connection failed: ${message}` };
}

/**
 * The one MQTT.js client of the agent, shared by every MQTT extension. Connects in the background and retries
 * forever with backoff (MQTT.js has a fixed reconnect period, so it is moved on every close: 1 s, 2 s, 4 s … 30 s,
 * back to 1 s once connected). Logs a failure when it differs from the previous one, not on every retry. Publishes
 * the bridge state: `online` on every connect, before the connect listeners run; `offline` on stop. Never queues
 * while offline: `publish` reports false and the caller decides (the state publisher republishes on connect, the
 * event publisher keeps a bounded queue).
 */
export class MqttConnection implements Extension {
  readonly name = 'mqtt-connection';
  private readonly deps: MqttConnectionDeps;
  private readonly log: Logger;
  private readonly backoff: Backoff;
  private readonly hostname: string;
  /** The client id used: MQTT_CLIENT_ID, or the stable default. */
  readonly clientId: string;
  private client: MqttClient | undefined;
  private readonly connectListeners = new Set<() => void>();
  private readonly messageListeners = new Set<MessageListener>();
  private failures = 0;
  /** Closes since the last successful connect: the exponent of the reconnect backoff. */
  private retries = 0;
  private pendingFailure: ConnectFailure | undefined;
  private lastLoggedKey: string | undefined;
  private everConnected = false;
  private wasConnected = false;
  private stopping = false;

  constructor(deps: MqttConnectionDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ module: 'mqtt' });
    this.backoff = deps.backoff ?? RETRY_BACKOFF;
    this.hostname = deps.hostname ?? osHostname();
    this.clientId = deps.config.clientId || defaultClientId(deps.config.baseTopic, this.hostname);
  }

  get connected(): boolean {
    return this.client?.connected === true && !this.stopping;
  }

  /** The MQTT.js client, for tests that need to break the connection. */
  get mqttClient(): MqttClient | undefined {
    return this.client;
  }

  /**
   * Calls `listener` on every successful (re)connect, after `online` went out and MQTT.js re-sent what was in
   * flight; at once (in a microtask) when already connected. Returns the function that removes it.
   */
  onConnect(listener: () => void): () => void {
    this.connectListeners.add(listener);
    if (this.connected) queueMicrotask(() => this.connectListeners.has(listener) && listener());
    return () => this.connectListeners.delete(listener);
  }

  /** Calls `listener` for every message received on any subscription. Returns the function that removes it. */
  onMessage(listener: MessageListener): () => void {
    this.messageListeners.add(listener);
    return () => this.messageListeners.delete(listener);
  }

  /** Starts connecting in the background and returns at once; never throws for an unreachable broker. */
  async start(): Promise<void> {
    if (this.client) throw new Error('MQTT connection already started');
    const { config } = this.deps;
    const options = clientOptions(config, {
      willTopic: this.deps.willTopic,
      hostname: this.hostname,
      reconnectPeriod: this.backoff.initialMs,
    });
    this.log.info(
      {
        url: maskUrlCredentials(config.url),
        clientId: options.clientId,
        protocolVersion: options.protocolVersion,
        username: config.username || undefined,
        tls: Boolean(config.caFile || config.certFile || /^(mqtts|wss):/.test(config.url)),
      },
      `connecting to MQTT broker ${maskUrlCredentials(config.url)}`,
    );
    const client = connect(config.url, options);
    this.client = client;
    client.on('connect', () => this.handleConnect(client));
    client.on('error', (error) => {
      this.pendingFailure = describeFailure(error, config);
    });
    client.on('disconnect', (packet) => {
      // MQTT 5: the broker says why it drops us (session taken over, server shutting down…).
      const code = packet.reasonCode ?? 0;
      const reason =
        code === 142
          ? `another client connected with the same client id ${options.clientId} (MQTT_CLIENT_ID)`
          : `reason code ${code}`;
      this.pendingFailure = {
        key: `disconnect-${code}`,
        level: 'warn',
        message: `broker disconnected us: ${reason}`,
      };
    });
    // Registered after MQTT.js's own close handler, which has just armed the retry with the current period.
    client.on('close', () => this.handleClose(client));
    client.on('message', (topic, payload, packet) => {
      for (const listener of this.messageListeners) {
        try {
          listener(topic, payload, packet);
        } catch (error) {
          this.log.error({ err: error, topic }, 'MQTT message handler failed');
        }
      }
    });
  }

  /**
   * Publishes now when connected; resolves true once the broker has it (QoS 1: PUBACK), false when offline or on
   * error. Never rejects, never queues.
   */
  publish(topic: string, payload: string | Buffer, opts: PublishOptions): Promise<boolean> {
    const client = this.client;
    if (!client || !this.connected) return Promise.resolve(false);
    return new Promise((resolve) => {
      client.publish(topic, payload, { qos: opts.qos, retain: opts.retain }, (error) => {
        if (error) this.log.debug({ topic, err: error }, `publish to ${topic} failed: ${error.message}`);
        resolve(!error);
      });
    });
  }

  /** Subscribes (and MQTT.js re-subscribes after every reconnect). Rejects when offline or refused. */
  async subscribe(filters: string[], opts: IClientSubscribeOptions): Promise<void> {
    const client = this.client;
    if (!client) throw new Error('MQTT connection not started');
    const granted = await client.subscribeAsync(filters, opts);
    const refused = granted.filter((g) => (g.qos as number) >= 0x80);
    if (refused.length > 0)
      throw new Error(`broker refused subscription to ${refused.map((g) => g.topic).join(', ')}`);
  }

  async unsubscribe(filters: string[]): Promise<void> {
    await this.client?.unsubscribeAsync(filters);
  }

  /**
   * Publishes the bridge's `offline` and waits for its PUBACK, then disconnects cleanly, which tells the broker not
   * to send the last will. Bounded in time: a dead broker cannot hold up the shutdown.
   */
  async stop(): Promise<void> {
    const client = this.client;
    if (!client || this.stopping) return;
    if (this.connected) {
      await withTimeout(
        this.publish(this.deps.willTopic, OFFLINE, { qos: 1, retain: true }),
        STOP_TIMEOUT_MS,
      );
    }
    this.stopping = true;
    const ended = await withTimeout(
      new Promise<true>((resolve) => {
        // Connected: DISCONNECT first (no last will). Otherwise just stop the retries.
        client.end(!client.connected, {}, () => resolve(true));
      }),
      STOP_TIMEOUT_MS,
    );
    if (!ended) client.end(true);
    this.client = undefined;
    this.log.info('MQTT connection closed');
  }

  private handleConnect(client: MqttClient): void {
    if (this.client !== client || this.stopping) return;
    client.options.reconnectPeriod = this.backoff.initialMs;
    const reconnect = this.everConnected;
    const after = this.failures > 0 ? ` after ${this.failures} failed attempt(s)` : '';
    this.log.info(
      { clientId: client.options.clientId, reconnect },
      `${reconnect ? 'reconnected' : 'connected'} to MQTT broker${after}`,
    );
    this.everConnected = true;
    this.wasConnected = true;
    this.failures = 0;
    this.retries = 0;
    this.pendingFailure = undefined;
    this.lastLoggedKey = undefined;
    void this.publish(this.deps.willTopic, ONLINE, { qos: 1, retain: true });
    for (const listener of this.connectListeners) {
      try {
        listener();
      } catch (error) {
        this.log.error({ err: error }, 'MQTT connect handler failed');
      }
    }
  }

  private handleClose(client: MqttClient): void {
    if (this.client !== client || this.stopping) return;
    const failure = this.pendingFailure ?? {
      key: 'closed',
      level: 'warn' as const,
      message: 'connection to the MQTT broker closed',
    };
    this.pendingFailure = undefined;
    const delay = client.options.reconnectPeriod ?? this.backoff.initialMs;
    if (this.wasConnected) this.wasConnected = false;
    else this.failures += 1;
    if (failure.key !== this.lastLoggedKey) {
      this.lastLoggedKey = failure.key;
      this.log[failure.level](
        { code: failure.key, retryInMs: delay },
        `${failure.message}; retrying with backoff (this is logged again only if the error changes)`,
      );
    }
    // MQTT.js has armed this retry with `delay` already; the one after it waits twice as long.
    this.retries += 1;
    client.options.reconnectPeriod = backoffDelay(this.retries + 1, this.backoff);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
