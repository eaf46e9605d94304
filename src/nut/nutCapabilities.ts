/**
 * What the agent may do with the NUT it runs, derived from the NUT version in this one place. An unknown version
 * gets 2.8.0's driver-socket behaviour (the oldest we support, so nothing is sent that a driver could not parse)
 * and never an untracked instant command (the risk of crashing a 2.8.1 driver outweighs everything else).
 */
import { NutVersion } from './nutVersion.js';

/** Driver unix-socket commands beyond PING / DUMPALL (NUT PR #2572, released in 2.8.3). */
export interface DriverSocketCapabilities {
  /** `LOGOUT` → `OK Goodbye`: the driver drops the connection itself. */
  logout: boolean;
  /** `GETPID` → `PID <n>`: which process serves the socket. */
  getpid: boolean;
}

export interface NutCapabilities {
  driverSocket: DriverSocketCapabilities;
  /**
   * An INSTCMD may go out without TRACKING when upsd refuses `SET TRACKING`. Only below 2.8.1: a 2.8.1 driver
   * dereferences the missing parameter of an untracked, parameterless INSTCMD and dies of SIGSEGV (fixed in 2.8.2,
   * NUT PR #2155; still shipped in Debian 13 and Ubuntu 24.04).
   */
  untrackedInstcmd: boolean;
}

const DRIVER_SOCKET_LOGOUT_GETPID = NutVersion.of('2.8.3');
const INSTCMD_CRASH_WITHOUT_TRACKING = NutVersion.of('2.8.1');

export function driverSocketCapabilities(version: NutVersion | undefined): DriverSocketCapabilities {
  const modern = version?.atLeast(DRIVER_SOCKET_LOGOUT_GETPID) ?? false;
  return { logout: modern, getpid: modern };
}

export function nutCapabilities(version: NutVersion | undefined): NutCapabilities {
  return {
    driverSocket: driverSocketCapabilities(version),
    untrackedInstcmd: version !== undefined && !version.atLeast(INSTCMD_CRASH_WITHOUT_TRACKING),
  };
}
