import { existsSync, lstatSync, readFileSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { basename, join } from 'node:path';
import type { Logger } from '../logger.js';
import { driverPidFile, driverSocketPath, type NutSetup } from '../nut/nutSetup.js';

/** A NUT process that nut-mqtt did not start already owns a file we need. */
export class AlreadyRunningError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AlreadyRunningError';
  }
}

/** The command line of a live, non-zombie process, or undefined. */
function liveCommandLine(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3 (after the parenthesised name, which may contain spaces) is the state; Z = zombie, X = dead.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return undefined;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

type SocketProbe = 'listening' | 'refused' | 'not-a-socket';

/** A unix socket refuses at once when nobody listens; one that neither accepts nor refuses is someone's, busy. */
const SOCKET_PROBE_TIMEOUT_MS = 1000;

function probeSocket(path: string): Promise<SocketProbe> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (result: SocketProbe) => {
      socket.destroy();
      resolve(result);
    };
    socket.once('connect', () => done('listening'));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      done(error.code === 'ECONNREFUSED' || error.code === 'ENOENT' ? 'refused' : 'not-a-socket'),
    );
    socket.setTimeout(SOCKET_PROBE_TIMEOUT_MS, () => done('listening'));
  });
}

function removeStalePidFile(file: string, program: string, logger: Logger): void {
  if (!existsSync(file)) return;
  const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
  const cmdline = Number.isInteger(pid) && pid > 0 ? liveCommandLine(pid) : undefined;
  if (cmdline?.includes(program)) {
    throw new AlreadyRunningError(
      `${program} is already running as pid ${pid} (pid file ${file}); stop it (or the system's NUT service) before starting nut-mqtt`,
    );
  }
  unlinkSync(file);
  logger.info({ file, stalePid: Number.isInteger(pid) ? pid : undefined }, 'removed stale pid file');
}

/**
 * Removes pid files and driver sockets left in the state path by NUT processes that no longer run (a crash, a
 * SIGKILLed `-F` driver leaves its socket behind). Only files named for our UPSes and upsd are touched. A file that
 * belongs to a live process is a conflict: refuse to start rather than fight another NUT over the same UPS.
 */
export async function clearStaleNutFiles(setup: NutSetup, logger: Logger): Promise<void> {
  removeStalePidFile(join(setup.altPidPath, 'upsd.pid'), 'upsd', logger);
  for (const ups of setup.upses) {
    removeStalePidFile(driverPidFile(setup, ups), ups.driver, logger);
    const socketPath = driverSocketPath(setup, ups);
    if (!existsSync(socketPath)) continue;
    if (!lstatSync(socketPath).isSocket()) {
      throw new AlreadyRunningError(`${socketPath} exists and is not a socket; remove it by hand`);
    }
    // A probe connection to a live 2.8.0 driver leaks in that driver; acceptable here since we refuse to start.
    const probe = await probeSocket(socketPath);
    if (probe === 'listening') {
      throw new AlreadyRunningError(
        `a ${ups.driver} driver for UPS ${ups.name} is already running (socket ${socketPath} answers); stop it before starting nut-mqtt`,
      );
    }
    unlinkSync(socketPath);
    logger.info({ ups: ups.name, file: basename(socketPath) }, 'removed stale driver socket');
  }
}
