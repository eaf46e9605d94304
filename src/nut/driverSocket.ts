/**
 * DriverSocket: the one long-lived connection to a NUT driver's unix socket ($NUT_STATEPATH/<driver>-<ups>).
 *
 * It is both a liveness probe (PING → PONG) and a live feed (the driver broadcasts SETINFO/DELINFO/DATASTALE
 * to every client). It must stay open for the driver's whole life: NUT 2.8.0 drivers never reap a client that
 * disconnects; they spin at ~50 % CPU and, when they next broadcast, log "send_to_all … disconnecting" and
 * abort ("bit out of range 0 - FD_SETSIZE on fd_set"). So close() only when the driver process is gone.
 * NUT 2.8.3+ drivers reap closed clients and know LOGOUT and GETPID; logout() and getPid() are for those only
 * (older drivers log "Unknown command on socket" and answer nothing). NOBROADCAST is never sent: on 2.8.1–2.8.2 a
 * client that sent it and then closed is never dropped, and the live feed needs the broadcasts anyway.
 */
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { connectSocket, type SocketErrorFactory } from './connectSocket.js';
import { parseDriverLine } from './driverLine.js';
import { DriverSocketError } from './errors.js';
import { readLines } from './lineReader.js';

export interface DriverSocketOptions {
  path: string;
  /** Longer lines are skipped (logged), not fatal: closing the connection would hurt the driver. Default 64 KiB. */
  maxLineBytes?: number;
  logger?: Logger;
}

export interface DriverDump {
  vars: Map<string, string>;
  stale: boolean;
  commands: string[];
}

export interface DriverSocketEvents {
  /** Emitted only when the value actually changed (`previous` is undefined for a new variable). */
  setinfo: [name: string, value: string, previous: string | undefined];
  /** Emitted only when the variable existed. */
  delinfo: [name: string];
  /** Emitted on the transition to stale (including the first report after connecting). */
  datastale: [];
  /** Emitted on the transition to fresh (including the first report after connecting). */
  dataok: [];
  dumpdone: [];
  /** The connection is gone: `error` is set unless close() was called. */
  close: [error?: DriverSocketError];
}

/** A promise with its settle functions and a timer that is always cleared when it settles. */
interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: Error) => void;
}

const socketError: SocketErrorFactory<DriverSocketError> = (code, message, extras) =>
  new DriverSocketError(code, message, extras);

function deferred<T>(timeoutMs: number, onTimeout: () => void): Deferred<T> {
  let settle!: Omit<Deferred<T>, 'promise'>;
  const promise = new Promise<T>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const timer = setTimeout(onTimeout, timeoutMs);
  return {
    promise,
    resolve: (value) => {
      clearTimeout(timer);
      settle.resolve(value);
    },
    reject: (error) => {
      clearTimeout(timer);
      settle.reject(error);
    },
  };
}

export class DriverSocket extends EventEmitter<DriverSocketEvents> {
  private readonly path: string;
  private readonly maxLineBytes: number;
  private readonly log: Logger | undefined;
  private socket: net.Socket | undefined;
  private connectingSocket: net.Socket | undefined;
  private readonly varsMap = new Map<string, string>();
  private readonly commandSet = new Set<string>();
  private staleFlag: boolean | undefined;
  private pendingPing: Deferred<number> | undefined;
  private pingStarted = 0;
  private pendingDump: Deferred<DriverDump> | undefined;
  // Replies still owed for requests that timed out: the driver answers every PING and DUMPALL in order, so the
  // next PONG/DUMPDONE belongs to the abandoned request, not to a newer one.
  private owedPongs = 0;
  private owedDumps = 0;
  /** The last `PID <n>` the driver sent on this connection. */
  private reportedPid: number | undefined;
  /** Settles a pending logout() at `OK Goodbye`. */
  private onGoodbye: (() => void) | undefined;

  constructor(opts: DriverSocketOptions) {
    super();
    this.path = opts.path;
    this.maxLineBytes = opts.maxLineBytes ?? 64 * 1024;
    this.log = opts.logger;
  }

  get connected(): boolean {
    return this.socket !== undefined;
  }

  /** Current values, kept up to date from the dump and every broadcast. */
  get vars(): ReadonlyMap<string, string> {
    return this.varsMap;
  }

  get commands(): readonly string[] {
    return [...this.commandSet];
  }

  /** Last DATASTALE/DATAOK seen; undefined until the driver has said either (e.g. before the first dumpAll). */
  get stale(): boolean | undefined {
    return this.staleFlag;
  }

  /** Rejects DriverSocketError: `ENOENT` (no socket file), `ECONNREFUSED` (stale file), `TIMEOUT`, or an errno. */
  connect(timeoutMs: number): Promise<void> {
    if (this.socket || this.connectingSocket) {
      return Promise.reject(new DriverSocketError('EISCONN', `already connected to ${this.path}`));
    }
    this.resetState();
    return connectSocket({
      target: { path: this.path },
      peer: this.path,
      timeoutMs,
      timeoutCode: 'TIMEOUT',
      makeError: socketError,
      track: (socket) => {
        this.connectingSocket = socket;
      },
    }).then((socket) => this.attach(socket));
  }

  /**
   * Sends DUMPALL and resolves at DUMPDONE with a copy of the state. A call while a dump is pending joins it
   * (the first call's timeout applies). A timeout does not close the connection.
   */
  dumpAll(timeoutMs: number): Promise<DriverDump> {
    if (this.pendingDump) return this.pendingDump.promise;
    if (!this.socket) return Promise.reject(this.notConnected('DUMPALL'));
    const dump = deferred<DriverDump>(timeoutMs, () => {
      this.pendingDump = undefined;
      this.owedDumps++;
      dump.reject(this.timeout('DUMPALL', timeoutMs));
    });
    this.pendingDump = dump;
    this.socket.write('DUMPALL\n');
    return dump.promise;
  }

  /**
   * Sends PING and resolves with the round trip in ms at PONG. A call while a ping is pending joins it (same
   * result, the first call's timeout applies). Rejects DriverSocketError('TIMEOUT'); the connection stays open.
   */
  ping(timeoutMs: number): Promise<number> {
    if (this.pendingPing) return this.pendingPing.promise;
    if (!this.socket) return Promise.reject(this.notConnected('PING'));
    const ping = deferred<number>(timeoutMs, () =>
      // After this turn's I/O: when the agent itself stalled, the PONG may be waiting unread in the socket, and
      // timers run before I/O. setImmediate runs after the socket has been read.
      setImmediate(() => {
        if (this.pendingPing !== ping) return;
        this.pendingPing = undefined;
        this.owedPongs++;
        ping.reject(this.timeout('PING', timeoutMs));
      }),
    );
    this.pendingPing = ping;
    this.pingStarted = performance.now();
    this.socket.write('PING\n');
    return ping.promise;
  }

  /**
   * GETPID, answered `PID <n>` by NUT 2.8.3+ drivers. A PING goes right behind it: the driver answers in order, so
   * a PONG with no PID before it means the driver does not know GETPID (resolves undefined) rather than a long wait.
   * Rejects like ping() (TIMEOUT: the driver answered neither). Call it before any ping of the connection.
   */
  async getPid(timeoutMs: number): Promise<number | undefined> {
    if (!this.socket) throw this.notConnected('GETPID');
    if (this.pendingPing) throw new DriverSocketError('EBUSY', `GETPID: a PING is pending on ${this.path}`);
    this.reportedPid = undefined;
    this.socket.write('GETPID\n');
    await this.ping(timeoutMs);
    return this.reportedPid;
  }

  /**
   * LOGOUT (NUT 2.8.3+): the driver answers `OK Goodbye` and drops the connection itself. Waits at most `timeoutMs`
   * for the answer or the end of the connection, then closes our side in any case. Never rejects.
   */
  logout(timeoutMs: number): Promise<'goodbye' | 'closed' | 'timeout' | 'not-connected'> {
    const socket = this.socket;
    if (!socket) return Promise.resolve('not-connected');
    return new Promise((resolve) => {
      const finish = (how: 'goodbye' | 'closed' | 'timeout') => {
        clearTimeout(timer);
        this.onGoodbye = undefined;
        this.off('close', onClose);
        this.close();
        resolve(how);
      };
      const onClose = () => finish('closed');
      const timer = setTimeout(() => finish('timeout'), timeoutMs);
      this.onGoodbye = () => finish('goodbye');
      this.once('close', onClose);
      socket.write('LOGOUT\n');
    });
  }

  /** Only when the driver process is gone or being restarted (see the file comment). Idempotent. */
  close(): void {
    this.connectingSocket?.destroy(
      new DriverSocketError('CLOSED', `connect to ${this.path} abandoned: closed`),
    );
    const socket = this.socket;
    if (!socket) return;
    this.detach(socket, undefined);
  }

  // -------------------------------------------------------------------------------------------------------

  private attach(socket: net.Socket): void {
    this.socket = socket;
    readLines(
      socket,
      { maxLineBytes: this.maxLineBytes, discardOverlong: true },
      {
        // A listener may close() us; stop handling lines of a connection we no longer own.
        owns: () => socket === this.socket,
        line: (line) => this.handleLine(line),
        overlong: () =>
          this.log?.warn(
            { path: this.path, maxLineBytes: this.maxLineBytes },
            'driver socket: over-long line skipped',
          ),
        close: (error) => this.detach(socket, error),
      },
      { makeError: socketError, lost: `driver socket ${this.path}`, closed: `driver closed ${this.path}` },
    );
    this.log?.debug({ path: this.path }, 'driver socket: connected');
  }

  private detach(socket: net.Socket, error: DriverSocketError | undefined): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    socket.destroy();
    const reason = error ?? new DriverSocketError('CLOSED', `driver socket ${this.path} closed`);
    const { pendingPing, pendingDump } = this;
    this.pendingPing = undefined;
    this.pendingDump = undefined;
    pendingPing?.reject(reason);
    pendingDump?.reject(reason);
    this.log?.debug({ path: this.path, err: error?.message }, 'driver socket: closed');
    this.emit('close', error);
  }

  private handleLine(line: string): void {
    const msg = parseDriverLine(line);
    switch (msg.kind) {
      case 'PONG':
        if (this.owedPongs > 0) this.owedPongs--;
        else if (this.pendingPing) {
          const ping = this.pendingPing;
          this.pendingPing = undefined;
          ping.resolve(performance.now() - this.pingStarted);
        }
        return;
      case 'SETINFO': {
        const previous = this.varsMap.get(msg.name);
        if (previous === msg.value) return;
        this.varsMap.set(msg.name, msg.value);
        this.emit('setinfo', msg.name, msg.value, previous);
        return;
      }
      case 'DELINFO':
        if (this.varsMap.delete(msg.name)) this.emit('delinfo', msg.name);
        return;
      case 'ADDCMD':
        this.commandSet.add(msg.name);
        return;
      case 'DELCMD':
        this.commandSet.delete(msg.name);
        return;
      case 'DATASTALE':
      case 'DATAOK': {
        const stale = msg.kind === 'DATASTALE';
        if (this.staleFlag === stale) return;
        this.staleFlag = stale;
        this.emit(stale ? 'datastale' : 'dataok');
        return;
      }
      case 'DUMPDONE':
        if (this.owedDumps > 0) this.owedDumps--;
        else if (this.pendingDump) {
          const dump = this.pendingDump;
          this.pendingDump = undefined;
          dump.resolve(this.snapshot());
        }
        this.emit('dumpdone');
        return;
      case 'PID':
        this.reportedPid = msg.pid;
        return;
      case 'GOODBYE':
        this.onGoodbye?.();
        return;
      case 'IGNORED':
        return;
      case 'UNKNOWN':
        this.log?.debug({ path: this.path, line: line.slice(0, 200) }, 'driver socket: unknown line ignored');
        return;
    }
  }

  private notConnected(command: string): DriverSocketError {
    return new DriverSocketError('NOT-CONNECTED', `${command}: not connected to ${this.path}`);
  }

  private timeout(command: string, timeoutMs: number): DriverSocketError {
    return new DriverSocketError(
      'TIMEOUT',
      `no reply to ${command} from ${this.path} within ${timeoutMs} ms`,
    );
  }

  private snapshot(): DriverDump {
    return { vars: new Map(this.varsMap), stale: this.staleFlag ?? false, commands: [...this.commandSet] };
  }

  private resetState(): void {
    this.varsMap.clear();
    this.commandSet.clear();
    this.staleFlag = undefined;
    this.owedPongs = 0;
    this.owedDumps = 0;
    this.reportedPid = undefined;
  }
}
