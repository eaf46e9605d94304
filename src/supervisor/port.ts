import type { InstcmdResult } from '../nut/instcmdSession.js';
import type { Supervisor } from './supervisor.js';
import type { UpsSnapshot } from './types.js';
import type { RestartOutcome } from './upsSupervisor.js';

/**
 * All that the extensions (MQTT, Home Assistant, metrics, health) may see of the supervisor: what it supervises,
 * copies of what it knows, and the three things they may ask of it. Events come on the bus.
 */
export interface SupervisorPort {
  /** The UPS names of ups.conf, in its order. */
  readonly upsNames: readonly string[];
  /** A copy of what is known about one UPS; undefined for a name the agent does not supervise. */
  snapshot(ups: string): UpsSnapshot | undefined;
  snapshots(): UpsSnapshot[];
  /** upsd runs and answered its last poll. */
  upsdAnswering(): boolean;
  /** upsd's `VER` reply (e.g. "Network UPS Tools upsd 2.8.0 - https://…"); rejects while upsd does not answer. */
  upsdVersion(): Promise<string>;
  /** Restarts one UPS's driver; resolves when it has fresh data again or the recovery failed. */
  restartUps(ups: string): Promise<RestartOutcome>;
  /** Restarts upsd, then the drivers; resolves when done (the bus says whether upsd answers again). */
  restartUpsd(): Promise<void>;
  /** Runs an instant command (already checked against MQTT_INSTCMD_ALLOW) and follows it to the driver's result. */
  instcmd(ups: string, command: string): Promise<InstcmdResult>;
}

/** The port of a supervisor: an object with only these methods, so an extension cannot reach anything else. */
export function supervisorPort(supervisor: Supervisor): SupervisorPort {
  return {
    upsNames: supervisor.upsNames,
    snapshot: (ups) => supervisor.ups(ups)?.snapshot(),
    snapshots: () => supervisor.snapshots(),
    upsdAnswering: () => supervisor.upsdAnswering,
    upsdVersion: () => supervisor.upsdVersion(),
    restartUps: (ups) => supervisor.restartUps(ups),
    restartUpsd: () => supervisor.restartUpsd(),
    instcmd: (ups, command) => supervisor.instcmd(ups, command),
  };
}
