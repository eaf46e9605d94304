import type { Logger } from '../logger.js';
import type { UpsConfEntry } from '../nut/confParser.js';
import { DriverSocket } from '../nut/driverSocket.js';
import { driverSocketPath, type NutSetup } from '../nut/nutSetup.js';
import { abortableSleep } from './abortableSleep.js';

export interface DriverProbeOptions {
  setup: NutSetup;
  ups: UpsConfEntry;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  /** False once the driver process this probe belongs to is gone or replaced. */
  isAlive: () => boolean;
  logger: Logger;
  onHung: (silentMs: number) => void;
  onStatus: (status: string) => void;
  /** A variable changed; `undefined` when the driver deleted it. */
  onVar: (name: string, value: string | undefined) => void;
  /** The driver flagged its data stale (DATASTALE). */
  onStale: () => void;
  /** The driver's data is OK again after it had flagged it stale (DATAOK). */
  onFresh: () => void;
}

const CONNECT_RETRY_MS = 100;

/**
 * The liveness probe and live feed on one driver's unix socket. It holds ONE connection for the driver process's
 * whole life: NUT 2.8.0 drivers never reap a client that disconnects and then spin at ~50 % CPU. PING every
 * `probeIntervalMs`; no PONG within `probeTimeoutMs` means hung. The same connection carries the driver's
 * broadcasts (SETINFO, DATASTALE, DATAOK), so a status change is known the moment the driver knows it.
 */
export class DriverProbe {
  private readonly options: DriverProbeOptions;
  private readonly abort = new AbortController();
  private socket: DriverSocket | undefined;
  private stale = false;

  constructor(options: DriverProbeOptions) {
    this.options = options;
  }

  start(): void {
    void this.run().catch((error: unknown) => {
      if (!this.closed) this.options.logger.error({ err: error }, 'driver probe failed');
    });
  }

  /** Closes the connection: only when the driver process is gone or about to be restarted. */
  close(): void {
    this.abort.abort();
    this.socket?.close();
    this.socket = undefined;
  }

  private get closed(): boolean {
    return this.abort.signal.aborted;
  }

  private get active(): boolean {
    return !this.closed && this.options.isAlive();
  }

  private pause(ms: number): Promise<boolean> {
    return abortableSleep(ms, this.abort.signal);
  }

  private async run(): Promise<void> {
    while (this.active) {
      const socket = await this.connect();
      if (!socket) return;
      const outcome = await this.watch(socket);
      if (outcome === 'hung' || !this.active) return;
      // A dying driver's socket closes a moment before its exit is reported: wait before calling it anything.
      if (!(await this.pause(500)) || !this.active) return;
      // The driver closed our connection while its process lives: reconnecting leaks nothing (it closed it).
      this.options.logger.warn('driver closed the probe connection; reconnecting');
    }
  }

  private async connect(): Promise<DriverSocket | undefined> {
    const path = driverSocketPath(this.options.setup, this.options.ups);
    while (this.active) {
      const socket = new DriverSocket({ path, logger: this.options.logger });
      try {
        await socket.connect(1000);
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

  /** Feeds the driver's broadcasts and PINGs until the driver hangs or the connection ends. */
  private async watch(socket: DriverSocket): Promise<'hung' | 'closed'> {
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
      if (!this.active) return 'closed';
      if ((error as { code?: string }).code === 'TIMEOUT') {
        this.options.onHung(Date.now() - dumpStarted);
        return 'hung';
      }
      return 'closed';
    }

    while (this.active) {
      const sentAt = Date.now();
      try {
        await socket.ping(probeTimeoutMs);
      } catch (error) {
        if (!this.active) return 'closed';
        if ((error as { code?: string }).code === 'TIMEOUT') {
          this.options.onHung(Date.now() - sentAt);
          return 'hung';
        }
        return 'closed';
      }
      if (!(await this.pause(probeIntervalMs))) return 'closed';
    }
    return 'closed';
  }
}
