import net from 'node:net';
import { NutClientError } from './errors.js';

/** Builds the owner's typed error (NutConnectionError, DriverSocketError) from a code and a message. */
export type SocketErrorFactory<E extends NutClientError = NutClientError> = (
  code: string,
  message: string,
  extras?: { cause?: unknown },
) => E;

export interface ConnectOptions {
  target: net.NetConnectOpts;
  /** The peer in messages: `upsd 127.0.0.1:3493`, or a driver socket's path. */
  peer: string;
  timeoutMs: number;
  /** The code of a connect that took longer than `timeoutMs`. */
  timeoutCode: string;
  makeError: SocketErrorFactory;
  /** Told about the socket while it connects (so the owner can abandon it on close), and undefined when done. */
  track: (socket: net.Socket | undefined) => void;
}

/**
 * Connects a TCP or unix socket with a time limit and typed errors; the one connect path of the upsd client and
 * the driver-socket client. Resolves with the connected socket; its 'error' listener from here is removed.
 */
export function connectSocket(opts: ConnectOptions): Promise<net.Socket> {
  const { target, peer, timeoutMs, makeError, track } = opts;
  return new Promise<net.Socket>((resolve, reject) => {
    const socket = net.createConnection(target);
    track(socket);
    const timer = setTimeout(
      () => socket.destroy(makeError(opts.timeoutCode, `connect to ${peer} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onError = (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      track(undefined);
      socket.destroy();
      // The owner's own errors (a timeout, or a close while connecting) pass as they are.
      if (error instanceof NutClientError) reject(error);
      else
        reject(makeError(error.code ?? 'ECONNECT', `connect to ${peer}: ${error.message}`, { cause: error }));
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      track(undefined);
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/**
 * Feeds a connected socket's data to `onData` and reports its end once, as the owner's typed error: the last socket
 * error that preceded the close (`<lost>: <message>`, code the errno or ECONNRESET), else EOF (`closed`).
 */
export function watchSocket<E extends NutClientError>(
  socket: net.Socket,
  onData: (chunk: Buffer) => void,
  onClose: (error: E) => void,
  wording: { makeError: SocketErrorFactory<E>; lost: string; closed: string },
): void {
  let lastError: NodeJS.ErrnoException | undefined;
  socket.on('data', onData);
  socket.on('error', (error) => {
    lastError = error;
  });
  socket.on('close', () =>
    onClose(
      lastError
        ? wording.makeError(lastError.code ?? 'ECONNRESET', `${wording.lost}: ${lastError.message}`, {
            cause: lastError,
          })
        : wording.makeError('EOF', wording.closed),
    ),
  );
}
