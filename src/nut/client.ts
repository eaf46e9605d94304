/**
 * NutClient: one persistent TCP connection to upsd, requests pipelined and answered in FIFO order.
 *
 * Why pipelining: upsd writes multi-line replies without TCP_NODELAY, so every LIST costs a ~44 ms Nagle /
 * delayed-ACK stall; requests written back to back share one stall instead of paying one each.
 * The protocol has no request ids, so the only safe reaction to a timeout or an unexpected line is to drop the
 * connection: after that we no longer know which reply belongs to which request.
 */
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import type { Logger } from 'pino';
import { connectSocket, type SocketErrorFactory } from './connectSocket.js';
import { NutClientError, NutConnectionError, NutProtocolError, NutTimeoutError } from './errors.js';
import {
  type InstcmdLines,
  type InstcmdOptions,
  type InstcmdResult,
  instcmdLines,
  runInstcmd,
} from './instcmdSession.js';
import { LineSplitter, readLines } from './lineReader.js';
import {
  buildRequest,
  lineReply,
  listReply,
  maskRequest,
  okReply,
  type ReplyReader,
  textReply,
  trackingIdReply,
  trackingStatusReply,
} from './protocol.js';

export interface NutClientOptions {
  host: string;
  port: number;
  /** Per request, from the moment it is written. */
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Send `VER` after this long without a request; 0 = off. */
  keepAliveMs?: number;
  /** A longer reply line is a protocol error and drops the connection. */
  maxLineBytes?: number;
  /** A LIST with more items is a protocol error. */
  maxListItems?: number;
  logger?: Logger;
}

export interface NutClientEvents {
  connect: [];
  /** The connection is gone; every pending request has been rejected. */
  disconnect: [error: Error];
}

const DEFAULTS = {
  /** The agent passes REQUEST_TIMEOUT; upsd answers in well under a millisecond when it is well. */
  requestTimeoutMs: 5000,
  /** upsd is on loopback or the LAN and accepts at once; 3 s leaves room for a busy host. */
  connectTimeoutMs: 3000,
  /** upsd drops clients idle for 60 s: a VER at half that keeps the connection. */
  keepAliveMs: 30_000,
  /** Far above any real reply line (a variable's value is at most 256 bytes). */
  maxLineBytes: 64 * 1024,
  /** Far above any real UPS (a few hundred variables), low enough to bound a hostile server's memory. */
  maxListItems: 20_000,
} as const;

interface Pending {
  request: string; // masked, for errors
  reader: ReplyReader<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class NutClient extends EventEmitter<NutClientEvents> {
  private readonly opts: Required<Omit<NutClientOptions, 'logger'>>;
  private readonly log: Logger | undefined;
  private socket: net.Socket | undefined;
  private connecting: Promise<void> | undefined;
  private connectingSocket: net.Socket | undefined;
  private splitter: LineSplitter;
  private queue: Pending[] = [];
  private lastSentAt = 0;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(opts: NutClientOptions) {
    super();
    this.opts = {
      host: opts.host,
      port: opts.port,
      requestTimeoutMs: opts.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
      connectTimeoutMs: opts.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
      keepAliveMs: opts.keepAliveMs ?? DEFAULTS.keepAliveMs,
      maxLineBytes: opts.maxLineBytes ?? DEFAULTS.maxLineBytes,
      maxListItems: opts.maxListItems ?? DEFAULTS.maxListItems,
    };
    this.log = opts.logger;
    // Replaced per connection (readLines); this one only answers lineBuffer before the first.
    this.splitter = new LineSplitter({ maxLineBytes: this.opts.maxLineBytes });
  }

  get connected(): boolean {
    return this.socket !== undefined;
  }

  /** Bytes held for an incomplete reply line, and the most ever held on the current connection (diagnostics). */
  get lineBuffer(): { bytes: number; peakBytes: number } {
    return { bytes: this.splitter.bufferedBytes, peakBytes: this.splitter.peakBufferedBytes };
  }

  /** Connects if not connected. Requests call this themselves; there is no automatic reconnect loop. */
  connect(): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    if (this.socket) return Promise.resolve();
    if (!this.connecting) {
      this.connecting = this.open().finally(() => {
        this.connecting = undefined;
      });
    }
    return this.connecting;
  }

  /** Ends the connection for good: pending requests reject with NutConnectionError('CLOSED'), timers stop. */
  async close(): Promise<void> {
    this.closed = true;
    this.connectingSocket?.destroy(closedError());
    const socket = this.socket;
    if (!socket) return;
    const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    this.drop(socket, closedError());
    await gone;
  }

  version(): Promise<string> {
    return this.request(buildRequest('VER'), textReply());
  }

  /** UPS name → description. */
  async listUps(): Promise<Map<string, string>> {
    const items = await this.request(
      buildRequest('LIST UPS'),
      listReply('UPS', [], 2, this.opts.maxListItems),
    );
    return toMap(items);
  }

  /** Variable name → value. `ups.status` may be `WAIT` right after a driver (re)connects; that is passed on. */
  async listVar(ups: string): Promise<Map<string, string>> {
    const line = buildRequest('LIST VAR', [ups]);
    return toMap(await this.request(line, listReply('VAR', [ups], 2, this.opts.maxListItems)));
  }

  async getVar(ups: string, name: string): Promise<string> {
    const [value] = await this.request(
      buildRequest('GET VAR', [ups, name]),
      lineReply(['VAR', ups, name], 1),
    );
    return value as string;
  }

  async listCmd(ups: string): Promise<string[]> {
    const items = await this.request(
      buildRequest('LIST CMD', [ups]),
      listReply('CMD', [ups], 1, this.opts.maxListItems),
    );
    return items.map(([cmd]) => cmd as string);
  }

  async getUpsDesc(ups: string): Promise<string> {
    const [desc] = await this.request(buildRequest('GET UPSDESC', [ups]), lineReply(['UPSDESC', ups], 1));
    return desc as string;
  }

  async numLogins(ups: string): Promise<number> {
    const [n] = await this.request(buildRequest('GET NUMLOGINS', [ups]), lineReply(['NUMLOGINS', ups], 1));
    if (!/^\d+$/.test(n ?? '')) throw new NutProtocolError('NUMLOGINS is not a number', n);
    return Number(n);
  }

  /**
   * Runs an instant command over a separate short-lived authenticated connection, so credentials never live on the
   * polling connection, and follows it with TRACKING to its real result (see instcmdSession.ts). upsd 2.8.0
   * answers OK to any PASSWORD; a wrong one shows up as ERR ACCESS-DENIED on the INSTCMD. Throws for upsd's
   * refusal of the command itself (NutError), a lost connection or garbage; every tracked outcome is a result.
   */
  async instcmd(
    ups: string,
    command: string,
    auth: { username: string; password: string },
    options: InstcmdOptions = {},
  ): Promise<InstcmdResult> {
    if (this.closed) throw closedError();
    // Build every line first: a bad argument must fail before we connect or send credentials.
    const lines = instcmdLines(ups, command, auth, options.value);
    return runInstcmd(new NutClient({ ...this.opts, keepAliveMs: 0, logger: this.log }), lines, options);
  }

  /** USERNAME and PASSWORD, each answered OK (a session's first step). */
  async authenticate(lines: Pick<InstcmdLines, 'username' | 'password'>): Promise<void> {
    await this.request(lines.username, okReply());
    await this.request(lines.password, okReply());
  }

  /** `SET TRACKING ON`: from now on upsd answers INSTCMD and SET VAR with `OK TRACKING <id>`. */
  async enableTracking(): Promise<void> {
    await this.request(buildRequest('SET TRACKING', ['ON']), okReply());
  }

  /** Sends a prepared INSTCMD line; resolves with the tracking id (tracking on) or upsd's bare `OK` line. */
  sendInstcmd(line: string, tracked: boolean): Promise<string> {
    return this.request(line, tracked ? trackingIdReply() : okReply());
  }

  /** `GET TRACKING <id>` → PENDING or SUCCESS; `ERR <code>` rejects as NutError (the connection stays usable). */
  trackingStatus(id: string): Promise<'PENDING' | 'SUCCESS'> {
    return this.request(buildRequest('GET TRACKING', [id]), trackingStatusReply());
  }

  /** Best effort LOGOUT (upsd answers `OK Goodbye` and closes); never rejects. */
  async logout(): Promise<void> {
    await this.request(buildRequest('LOGOUT'), okReply()).catch(() => undefined);
  }

  // -------------------------------------------------------------------------------------------------------

  private async request<T>(line: string, reader: ReplyReader<T>): Promise<T> {
    // Connected (the usual case on the poll path): write at once, no extra promise turn.
    if (!this.socket) await this.connect();
    return this.send(line, reader);
  }

  /** Writes on the current connection without connecting (keep-alive must never reconnect). */
  private send<T>(line: string, reader: ReplyReader<T>): Promise<T> {
    const socket = this.socket;
    const request = maskRequest(line);
    if (!socket)
      return Promise.reject(new NutConnectionError('ENOTCONN', 'not connected to upsd', { request }));
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = {
        request,
        reader,
        resolve: resolve as (value: unknown) => void,
        reject,
        timer: setTimeout(() => {
          const err = new NutTimeoutError(this.opts.requestTimeoutMs, { request });
          this.drop(socket, err, pending, err);
        }, this.opts.requestTimeoutMs),
      };
      this.queue.push(pending);
      socket.write(line);
      this.armKeepAlive();
    });
  }

  private async open(): Promise<void> {
    const { host, port, connectTimeoutMs } = this.opts;
    const socket = await connectSocket({
      target: { host, port, noDelay: true },
      peer: `upsd ${host}:${port}`,
      timeoutMs: connectTimeoutMs,
      timeoutCode: 'ETIMEDOUT',
      makeError: connectionError,
      track: (s) => {
        this.connectingSocket = s;
      },
    });
    this.attach(socket);
  }

  private attach(socket: net.Socket): void {
    this.socket = socket;
    this.splitter = readLines(
      socket,
      { maxLineBytes: this.opts.maxLineBytes },
      {
        owns: () => socket === this.socket,
        line: (line) => this.onLine(socket, line),
        // Without discardOverlong an over-long line always comes with its error; the reply it belonged to is lost.
        overlong: (error) => error && this.drop(socket, error, this.queue[0], error),
        close: (error) => this.drop(socket, error),
      },
      { makeError: connectionError, lost: 'upsd connection lost', closed: 'upsd closed the connection' },
    );
    this.armKeepAlive();
    this.log?.debug({ host: this.opts.host, port: this.opts.port }, 'nut: connected to upsd');
    this.emit('connect');
  }

  /** One reply line, for the request at the head of the queue; anything unexpected drops the connection. */
  private onLine(socket: net.Socket, line: string): void {
    const head = this.queue[0];
    if (!head) {
      this.drop(socket, new NutProtocolError('reply without a request', line));
      return;
    }
    try {
      const step = head.reader.read(line);
      if (!step.done) return;
      this.queue.shift();
      clearTimeout(head.timer);
      head.resolve(step.value);
    } catch (err) {
      const error = err instanceof NutClientError ? err.attachRequest(head.request) : (err as Error);
      if (error instanceof NutProtocolError || !(error instanceof NutClientError)) {
        this.drop(socket, error, head, error);
        return;
      }
      // ERR <code>: a complete, well-formed reply; the connection stays usable.
      this.queue.shift();
      clearTimeout(head.timer);
      head.reject(error);
    }
  }

  /**
   * Forgets `socket` and fails everything queued on it. `culprit` (the request that timed out or got garbage)
   * gets `culpritError`; the others get a NutConnectionError because their replies are lost with the stream.
   */
  private drop(socket: net.Socket, reason: Error, culprit?: Pending, culpritError?: Error): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    clearTimeout(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
    const pending = this.queue;
    this.queue = [];
    socket.destroy();
    for (const p of pending) {
      clearTimeout(p.timer);
      if (p === culprit && culpritError) p.reject(culpritError);
      else p.reject(connectionLost(reason, p.request));
    }
    this.log?.debug({ err: reason.message }, 'nut: disconnected from upsd');
    this.emit('disconnect', reason);
  }

  /**
   * Notes traffic; one timer checks for idleness. (Re-arming a timer on every request showed up in the poll's CPU
   * profile; the timer now only moves forward when it fires.)
   */
  private armKeepAlive(): void {
    this.lastSentAt = Date.now();
    if (this.opts.keepAliveMs <= 0 || !this.socket || this.keepAliveTimer) return;
    this.scheduleKeepAlive(this.opts.keepAliveMs);
  }

  private scheduleKeepAlive(delayMs: number): void {
    this.keepAliveTimer = setTimeout(() => {
      this.keepAliveTimer = undefined;
      if (!this.socket) return;
      const idleMs = Date.now() - this.lastSentAt;
      if (idleMs < this.opts.keepAliveMs) {
        this.scheduleKeepAlive(this.opts.keepAliveMs - idleMs);
        return;
      }
      // A failure already dropped the connection and emitted 'disconnect'; nothing more to do here.
      this.send(buildRequest('VER'), textReply()).catch(() => undefined);
    }, delayMs);
    this.keepAliveTimer.unref();
  }
}

function toMap(items: string[][]): Map<string, string> {
  return new Map(items.map(([k, v]) => [k as string, v as string]));
}

const connectionError: SocketErrorFactory = (code, message, extras) =>
  new NutConnectionError(code, message, extras);

function closedError(): NutConnectionError {
  return new NutConnectionError('CLOSED', 'NutClient is closed');
}

function connectionLost(reason: Error, request: string): NutConnectionError {
  if (reason instanceof NutConnectionError) {
    return new NutConnectionError(reason.code, reason.message, { request, cause: reason.cause });
  }
  return new NutConnectionError('ECONNRESET', `connection dropped: ${reason.message}`, {
    request,
    cause: reason,
  });
}
