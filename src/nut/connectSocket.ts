import net from 'node:net';

export interface ConnectOptions {
  target: net.NetConnectOpts;
  timeoutMs: number;
  /** The error for a connect that took longer than `timeoutMs`. */
  timeoutError: () => Error;
  /** Turns a socket error (ECONNREFUSED, ENOENT, …) into the caller's typed error. */
  wrapError: (error: NodeJS.ErrnoException) => Error;
  /** Told about the socket while it connects (so the owner can abandon it on close), and undefined when done. */
  track: (socket: net.Socket | undefined) => void;
}

/**
 * Connects a TCP or unix socket with a time limit and typed errors; the one connect path of the upsd client and
 * the driver-socket client. Resolves with the connected socket; its 'error' listener from here is removed.
 */
export function connectSocket({
  target,
  timeoutMs,
  timeoutError,
  wrapError,
  track,
}: ConnectOptions): Promise<net.Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    const socket = net.createConnection(target);
    track(socket);
    const timer = setTimeout(() => socket.destroy(timeoutError()), timeoutMs);
    const onError = (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      track(undefined);
      socket.destroy();
      reject(wrapError(error));
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
 * Feeds a connected socket's data to `onData` and reports its end once, with the last socket error (if any) that
 * preceded the close: the one place that turns "reset" and "EOF" into the owner's typed error.
 */
export function watchSocket(
  socket: net.Socket,
  onData: (chunk: Buffer) => void,
  onClose: (lastError: NodeJS.ErrnoException | undefined) => void,
): void {
  let lastError: NodeJS.ErrnoException | undefined;
  socket.on('data', onData);
  socket.on('error', (error) => {
    lastError = error;
  });
  socket.on('close', () => onClose(lastError));
}
