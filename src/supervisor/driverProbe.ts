import type { Logger } from '../logger.js';
import type { UpsConfEntry } from '../nut/confParser.js';
import { DriverSocket } from '../nut/driverSocket.js';
import type { DriverSocketCapabilities } from '../nut/nutCapabilities.js';
import { driverSocketPath, type NutSetup } from '../nut/nutSetup.js';
import { abortableSleep } from './abortableSleep.js';
import { NO_RHYTHM, RHYTHM_CONFIG, recordPong, rhythmTimeout } from './driverRhythm.js';
import { learnedTimeout, type PongLatencyConfig, pongLatencyConfig, recordLatency } from './pongLatency.js';

export interface DriverProbeOptions {
  setup: NutSetup;
  ups: UpsConfEntry;
  probeIntervalMs: number;
  /** PROBE_TIMEOUT: the PING timeout until this driver's normal PONG latency is learned, and its upper bound. */
  probeTimeoutMs: number;
  /** PONG latencies learned from the previous process of the same driver (a restart need not learn anew). */
  initialLatencies?: readonly number[];
  /** What the driver's socket understands beyond PING/DUMPALL (from the NUT version). */
  capabilities: DriverSocketCapabilities;
  /** pid of the driver process the agent started, which GETPID must report. */
  driverPid: number;
  /** False once the driver process this probe belongs to is gone or replaced. */
  isAlive: () => boolean;
  logger: Logger;
  /**
   * No PONG within `timeoutMs`: the learned timeout (PROBE_TIMEOUT until it is learned), or with `byRhythm` the short
   * one of a PING sent while the driver's rhythm says it listens (driverRhythm.ts).
   */
  onHung: (silentMs: number, timeoutMs: number, byRhythm: boolean) => void;
  /** GETPID named another process than ours: the socket file is served by a driver the agent did not start. */
  onForeign: (pid: number) => void;
  onStatus: (status: string) => void;
  /** A variable changed; `undefined` when the driver deleted it. */
  onVar: (name: string, value: string | undefined) => void;
  /** The driver flagged its data stale (DATASTALE). */
  onStale: () => void;
  /** The driver's data is OK again after it had flagged it stale (DATAOK). */
  onFresh: () => void;
}

/** The socket appears about a second after the driver starts: look for it this often until then. */
const CONNECT_RETRY_MS = 100;
/** A unix socket connects at once or not at all; this only bounds a driver too busy to accept. */
const CONNECT_TIMEOUT_MS = 1000;
/** A dying driver's socket closes a moment before its exit is reported: wait this long before reconnecting. */
const RECONNECT_PAUSE_MS = 500;

type WatchOutcome = 'hung' | 'closed' | 'foreign';

/**
 * The liveness probe and live feed on one driver's unix socket. It holds ONE connection for the driver process's
 * whole life: NUT 2.8.0–2.8.2 drivers never reap a client that disconnects and then spin at 50–90 % CPU. PING every
 * `probeIntervalMs`; no PONG within the learned timeout (pongLatency.ts: this driver's normal PONG latency with
 * headroom, never above `probeTimeoutMs`, which applies until enough is learned) means hung. The same connection carries the driver's
 * broadcasts (SETINFO, DATASTALE, DATAOK), so a status change is known the moment the driver knows it.
 *
 * On NUT 2.8.3+ (capabilities): right after connecting, GETPID must name the process the agent started. Another
 * pid means some other driver instance has bound the socket path since (drivers unlink and re-bind it at start),
 * so upsd talks to that one and our driver is unreachable: the probe logs an error, says LOGOUT to the stranger,
 * and reports onForeign; the supervisor then restarts our driver, which takes the path back. Closing a connection
 * to a driver that still runs starts with LOGOUT (bounded wait), except after a hang (nobody would answer).
 */
export class DriverProbe {
  private readonly options: DriverProbeOptions;
  private readonly abort = new AbortController();
  private socket: DriverSocket | undefined;
  private stale = false;
  /** The last watch ended in a hang: the driver would not answer a LOGOUT. */
  private hung = false;
  /** The pid GETPID reported when it was not our driver's. */
  private foreignPid: number | undefined;
  private readonly latencyConfig: PongLatencyConfig;
  private pongLatencies: readonly number[];

  constructor(options: DriverProbeOptions) {
    this.options = options;
    this.latencyConfig = pongLatencyConfig(options.probeTimeoutMs);
    this.pongLatencies = options.initialLatencies ?? [];
  }

  /** The recent PONG latencies of this driver (handed to the probe of its next process). */
  get latencies(): readonly number[] {
    return this.pongLatencies;
  }

  /** The PING timeout in force: PROBE_TIMEOUT until this driver's PONG latency is learned. */
  get pingTimeoutMs(): number {
    return learnedTimeout(this.pongLatencies, this.latencyConfig);
  }

  start(): void {
    void this.run().catch((error: unknown) => {
      if (!this.closed) this.options.logger.error({ err: error }, 'driver probe failed');
    });
  }

  /**
   * Closes the connection: only when the driver process is gone or about to be restarted. Says LOGOUT first where
   * the driver knows it and can still answer; resolves once the connection is closed, after at most one probe
   * timeout (the driver answers from its main loop, like PING: dummy-ups can be a second late).
   */
  async close(): Promise<void> {
    this.abort.abort();
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await this.release(socket);
  }

  private async release(socket: DriverSocket): Promise<void> {
    if (!this.options.capabilities.logout || this.hung || !socket.connected || !this.options.isAlive()) {
      socket.close();
      return;
    }
    const how = await socket.logout(this.options.probeTimeoutMs);
    this.options.logger.debug({ logout: how }, `driver socket closed after LOGOUT (${how})`);
  }

  private get closed(): boolean {
    return this.abort.signal.aborted;
  }

  private get active(): boolean {
    return !this.closed && this.options.isAlive();
  }

  /**
   * A DUMPALL or PING that failed: a TIMEOUT is a hang (reported here), anything else ends the watch. `byRhythm`:
   * the timeout was the short one of the driver's listening window (driverRhythm.ts).
   */
  private failed(error: unknown, sentAt: number, timeoutMs: number, byRhythm = false): WatchOutcome {
    if (!this.active || (error as { code?: string }).code !== 'TIMEOUT') return 'closed';
    this.hung = true;
    this.options.onHung(Date.now() - sentAt, timeoutMs, byRhythm);
    return 'hung';
  }

  private pause(ms: number): Promise<boolean> {
    return abortableSleep(ms, this.abort.signal);
  }

  private async run(): Promise<void> {
    while (this.active) {
      const socket = await this.connect();
      if (!socket) return;
      const outcome = await this.watch(socket);
      if (outcome === 'foreign') {
        // LOGOUT to the stranger first, then report: the restart that follows must not find this connection.
        if (this.socket === socket) this.socket = undefined;
        await this.release(socket);
        if (!this.closed && this.foreignPid !== undefined) this.options.onForeign(this.foreignPid);
        return;
      }
      if (outcome === 'hung' || !this.active) return;
      // A dying driver's socket closes a moment before its exit is reported: wait before calling it anything.
      if (!(await this.pause(RECONNECT_PAUSE_MS)) || !this.active) return;
      // The driver closed our connection while its process lives: reconnecting leaks nothing (it closed it).
      this.options.logger.warn('driver closed the probe connection; reconnecting');
    }
  }

  private async connect(): Promise<DriverSocket | undefined> {
    const path = driverSocketPath(this.options.setup, this.options.ups);
    while (this.active) {
      const socket = new DriverSocket({ path, logger: this.options.logger });
      try {
        await socket.connect(CONNECT_TIMEOUT_MS);
        if (!this.active) {
          socket.close();
          return undefined;
        }
        this.socket = socket;
        return socket;
      } catch {
        // The socket appears about a second after the driver starts; a stale file answers ECONNREFUSED.
        socket.close();
        if (!(await this.pause(CONNECT_RETRY_MS))) return undefined;
      }
    }
    return undefined;
  }

  /**
   * GETPID once per connection (2.8.3+). 'ours' also when the driver unexpectedly does not know GETPID: then there
   * is nothing to check, which is no reason to restart a driver that answers.
   */
  private async checkPid(socket: DriverSocket): Promise<'ours' | WatchOutcome> {
    const { driverPid, probeTimeoutMs, logger } = this.options;
    const sentAt = Date.now();
    let pid: number | undefined;
    try {
      // Like the dump: a driver inside its update answers late; allow two probe timeouts.
      pid = await socket.getPid(probeTimeoutMs * 2);
    } catch (error) {
      if (!this.active) return 'closed';
      if ((error as { code?: string }).code !== 'TIMEOUT') return 'closed';
      this.hung = true;
      this.options.onHung(Date.now() - sentAt, probeTimeoutMs * 2, false);
      return 'hung';
    }
    if (pid === undefined) {
      logger.warn(
        'driver answered PING but not GETPID although its NUT version should know it: pid not checked',
      );
      return 'ours';
    }
    if (pid === driverPid) return 'ours';
    logger.error(
      { childPid: driverPid, socketPid: pid },
      `driver socket is served by pid ${pid}, not by the driver the agent started (pid ${driverPid}): another driver instance took over the socket`,
    );
    this.foreignPid = pid;
    return 'foreign';
  }

  /** Feeds the driver's broadcasts and PINGs until the driver hangs or the connection ends. */
  private async watch(socket: DriverSocket): Promise<WatchOutcome> {
    if (this.options.capabilities.getpid) {
      const verdict = await this.checkPid(socket);
      if (verdict !== 'ours') return verdict;
    }

    const { onStatus, onVar, onStale, onFresh, probeIntervalMs, probeTimeoutMs } = this.options;
    socket.on('setinfo', (name: string, value: string) =>
      name === 'ups.status' ? onStatus(value) : onVar(name, value),
    );
    socket.on('delinfo', (name: string) => onVar(name, undefined));
    socket.on('datastale', () => {
      if (this.stale) return;
      this.stale = true;
      onStale();
    });
    socket.on('dataok', () => {
      if (!this.stale) return;
      this.stale = false;
      onFresh();
    });

    const dumpStarted = Date.now();
    try {
      // A driver inside its update (dummy-ups sleeps 1 s there) answers late; allow two probe timeouts.
      const dump = await socket.dumpAll(probeTimeoutMs * 2);
      for (const [name, value] of dump.vars) if (name !== 'ups.status') onVar(name, value);
      const status = dump.vars.get('ups.status');
      if (status !== undefined) onStatus(status);
      if (dump.stale && !this.stale) {
        this.stale = true;
        onStale();
      }
    } catch (error) {
      return this.failed(error, dumpStarted, probeTimeoutMs * 2);
    }

    let rhythm = NO_RHYTHM;
    while (this.active) {
      const sentAt = Date.now();
      const learnedMs = this.pingTimeoutMs;
      const timeoutMs = rhythmTimeout(rhythm, sentAt, learnedMs, RHYTHM_CONFIG);
      try {
        await socket.ping(timeoutMs);
      } catch (error) {
        return this.failed(error, sentAt, timeoutMs, timeoutMs < learnedMs);
      }
      const answeredAt = Date.now();
      this.pongLatencies = recordLatency(this.pongLatencies, answeredAt - sentAt, this.latencyConfig);
      rhythm = recordPong(rhythm, sentAt, answeredAt, RHYTHM_CONFIG);
      if (!(await this.pause(probeIntervalMs))) return 'closed';
    }
    return 'closed';
  }
}
