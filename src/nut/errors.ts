/**
 * Typed errors for the NUT clients. Every error has a `code` so callers can branch without parsing messages,
 * and a common base so one `instanceof NutClientError` tells "ours" from anything else.
 */

/** Every `ERR <code>` in RFC 9271, plus `UNKNOWN` (GET TRACKING, seen from upsd 2.8.0) and pre-2.x leftovers. */
export const NUT_ERROR_CODES = [
  'ACCESS-DENIED',
  'UNKNOWN-UPS',
  'VAR-NOT-SUPPORTED',
  'CMD-NOT-SUPPORTED',
  'INVALID-ARGUMENT',
  'INSTCMD-FAILED',
  'SET-FAILED',
  'READONLY',
  'TOO-LONG',
  'FEATURE-NOT-SUPPORTED',
  'FEATURE-NOT-CONFIGURED',
  'ALREADY-SSL-MODE',
  'DRIVER-NOT-CONNECTED',
  'DATA-STALE',
  'ALREADY-LOGGED-IN',
  'INVALID-PASSWORD',
  'ALREADY-SET-PASSWORD',
  'INVALID-USERNAME',
  'ALREADY-SET-USERNAME',
  'USERNAME-REQUIRED',
  'PASSWORD-REQUIRED',
  'UNKNOWN-COMMAND',
  'INVALID-VALUE',
  'UNKNOWN',
  'VAR-UNKNOWN',
  'UNKNOWN-TYPE',
  'UNKNOWN-INSTCMD',
  'MISSING-ARGUMENT',
] as const;

export type NutErrorCode = (typeof NUT_ERROR_CODES)[number];

interface ErrorExtras {
  /** The request line as it may be logged (passwords already masked). */
  request?: string | undefined;
  cause?: unknown;
}

/** Base of every error thrown by NutClient, DriverSocket and the protocol helpers. */
export abstract class NutClientError extends Error {
  abstract readonly code: string;
  request: string | undefined;

  constructor(message: string, extras: ErrorExtras = {}) {
    super(message, extras.cause === undefined ? undefined : { cause: extras.cause });
    this.name = new.target.name;
    this.request = undefined;
    if (extras.request !== undefined) this.attachRequest(extras.request);
  }

  /** Records which request failed (once); the line must already be masked (see maskRequest). */
  attachRequest(request: string): this {
    if (this.request === undefined) {
      this.request = request;
      this.message += ` (request: ${request})`;
    }
    return this;
  }
}

/** upsd answered `ERR <code> [detail]`. The connection is still usable. */
export class NutError extends NutClientError {
  // `string & {}` keeps autocompletion for known codes while accepting codes from newer servers.
  readonly code: NutErrorCode | (string & {});
  readonly detail: string | undefined;

  constructor(code: string, detail?: string, extras: ErrorExtras = {}) {
    super(`upsd: ERR ${code}${detail ? ` ${detail}` : ''}`, extras);
    this.code = code;
    this.detail = detail;
  }
}

/** No complete reply within the request timeout. The connection was dropped (stream position unknown). */
export class NutTimeoutError extends NutClientError {
  readonly code = 'TIMEOUT';
  readonly timeoutMs: number;

  constructor(timeoutMs: number, extras: ErrorExtras = {}) {
    super(`no reply from upsd within ${timeoutMs} ms`, extras);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * Could not connect, or the connection went away before the reply: `code` is the errno (`ECONNREFUSED`,
 * `ECONNRESET`, `ETIMEDOUT` for a connect timeout…), `EOF` when the peer closed, `CLOSED` after close().
 */
export class NutConnectionError extends NutClientError {
  readonly code: string;

  constructor(code: string, message: string, extras: ErrorExtras = {}) {
    super(message, extras);
    this.code = code;
  }
}

/** The server sent something we cannot trust: garbage, an over-long line, too many list items, a reply that
 * does not match the request. The connection is dropped because the stream position is unknown. */
export class NutProtocolError extends NutClientError {
  readonly code = 'PROTOCOL';
  /** The offending line, truncated. */
  readonly line: string | undefined;

  constructor(message: string, line?: string, extras: ErrorExtras = {}) {
    super(line === undefined ? message : `${message}: ${JSON.stringify(truncate(line))}`, extras);
    this.line = line === undefined ? undefined : truncate(line);
  }
}

/** A caller passed an argument that cannot be sent safely (control characters, empty or spaced names). */
export class NutArgumentError extends NutClientError {
  readonly code = 'ARGUMENT';
}

/** Driver unix-socket failures: `ENOENT` (no socket file), `ECONNREFUSED` (stale file, dead driver),
 * `TIMEOUT`, `EOF` (driver closed), `CLOSED` (close() called), `NOT-CONNECTED`, or another errno. */
export class DriverSocketError extends NutClientError {
  readonly code: string;

  constructor(code: string, message: string, extras: ErrorExtras = {}) {
    super(message, extras);
    this.code = code;
  }
}

export function isNutError(e: unknown, code?: NutErrorCode | (string & {})): e is NutError {
  return e instanceof NutError && (code === undefined || e.code === code);
}

function truncate(s: string, max = 200): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
