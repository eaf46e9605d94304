import { DriverSocket } from './driverSocket.js';

/** A knock is over after this long, answered or not: a unix socket connects at once or not at all. */
const KNOCK_TIMEOUT_MS = 500;

/**
 * Connects to a driver's unix socket and closes at once, to wake the driver's main loop.
 *
 * Why: NUT 2.8.1+ drivers handle SIGTERM by setting a flag that their main loop checks only when the wait on their
 * sockets returns: at a socket's activity or at the end of the poll interval. A driver signalled inside its update
 * (dummy-ups sleeps 1 s there) finishes it and then waits out the rest of the interval, up to ~1 s, before it
 * exits. A connection is activity: it exits at once. (On 2.8.0–2.8.2 a client that closes is never reaped, but the
 * driver is exiting.) Resolves when the knock is over; never rejects.
 */
export async function knock(path: string): Promise<void> {
  const socket = new DriverSocket({ path });
  // A driver that is gone (ENOENT, ECONNREFUSED) or too busy to accept needs no knock.
  await socket.connect(KNOCK_TIMEOUT_MS).catch(() => undefined);
  socket.close();
}
