import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import { NutClient } from '../nut/client.js';
import type { InstcmdResult } from '../nut/instcmdSession.js';
import { type NutCapabilities, nutCapabilities } from '../nut/nutCapabilities.js';
import type { NutSetup } from '../nut/nutSetup.js';
import type { NutVersion } from '../nut/nutVersion.js';
import { readUpsdVersion } from '../nut/upsdVersion.js';
import { clearStaleNutFiles } from './staleFiles.js';
import type { UpsSnapshot } from './types.js';
import { UpsdSupervisor } from './upsdSupervisor.js';
import { type RestartOutcome, type SupervisorTimings, UpsSupervisor } from './upsSupervisor.js';

/**
 * How long an instant command's result (GET TRACKING) is waited for once upsd accepted it. Drivers run commands
 * synchronously in their main loop, so this is one driver update plus the command's own I/O.
 */
export function instcmdResultTimeoutMs(timings: Pick<SupervisorTimings, 'requestTimeout'>): number {
  return Math.max(MIN_INSTCMD_RESULT_WAIT_MS, timings.requestTimeout * 2);
}

/** A driver's update cycle is up to a few seconds (pollinterval 2 s by default, some USB calls ~1 s each). */
const MIN_INSTCMD_RESULT_WAIT_MS = 10_000;

export class UnknownUpsError extends Error {
  constructor(readonly ups: string) {
    super(`unknown UPS "${ups}"`);
    this.name = 'UnknownUpsError';
  }
}

export interface SupervisorDeps {
  setup: NutSetup;
  timings: SupervisorTimings;
  bus: EventBus;
  logger: Logger;
  /** upsd.users account for instant commands. */
  credentials?: { username: string; password: string };
}

/**
 * Owns the NUT processes: upsd and one driver per UPS in ups.conf, each a watched child. The rest of the agent
 * (MQTT, Home Assistant, metrics, health) sees it only through its port (port.ts) and the event bus.
 */
export class Supervisor {
  private readonly client: NutClient;
  private readonly deps: SupervisorDeps;
  private readonly log: Logger;
  private readonly upses = new Map<string, UpsSupervisor>();
  private readonly upsd: UpsdSupervisor;
  private started = false;
  private version: NutVersion | undefined;
  /** 2.8.0's until the version is known (see nutCapabilities.ts). */
  private capabilities: NutCapabilities = nutCapabilities(undefined);

  constructor(deps: SupervisorDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ module: 'supervisor' });
    const { setup, timings, bus } = deps;
    this.client = new NutClient({
      host: setup.address.host,
      port: setup.address.port,
      requestTimeoutMs: timings.requestTimeout,
      logger: deps.logger.child({ module: 'nut-client' }),
    });
    for (const ups of setup.upses) {
      this.upses.set(
        ups.name,
        new UpsSupervisor({
          ups,
          setup,
          timings,
          bus,
          logger: deps.logger,
          client: this.client,
          driverSocketCapabilities: () => this.capabilities.driverSocket,
        }),
      );
    }
    this.upsd = new UpsdSupervisor({
      setup,
      timings,
      bus,
      logger: deps.logger,
      client: this.client,
      upsNames: [...this.upses.keys()],
      onPoll: (name, result, sentAt) => this.upses.get(name)?.handlePoll(result, sentAt),
      onCommands: (name, commands) => this.upses.get(name)?.setCommands(commands),
      onRestarted: () => {
        for (const ups of this.upses.values()) void ups.requestRestart('upsd-restarted');
      },
    });
  }

  get upsNames(): string[] {
    return [...this.upses.keys()];
  }

  /** The NUT version `upsd -V` reported at start; undefined when unknown. */
  get nutVersion(): NutVersion | undefined {
    return this.version;
  }

  get upsdPid(): number | undefined {
    return this.upsd.pid;
  }

  /** upsd runs and answered its last poll. */
  get upsdAnswering(): boolean {
    return this.upsd.answering;
  }

  /**
   * Clears stale files, learns the NUT version, starts every driver, then upsd (it connects to the driver sockets
   * as they appear).
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('supervisor already started');
    this.started = true;
    await clearStaleNutFiles(this.deps.setup, this.log);
    await this.learnNutVersion();
    this.log.info({ upses: this.upsNames }, `starting ${this.upses.size} UPS driver(s) and upsd`);
    for (const ups of this.upses.values()) ups.start();
    this.upsd.start();
  }

  private async learnNutVersion(): Promise<void> {
    const result = await readUpsdVersion(this.deps.setup.upsdPath, this.deps.setup.childEnv);
    this.version = result.ok ? result.version : undefined;
    this.capabilities = nutCapabilities(this.version);
    const { logout, getpid } = this.capabilities.driverSocket;
    if (result.ok) {
      this.log.info(
        { nutVersion: result.version.toString(), driverSocket: { logout, getpid } },
        `NUT ${result.version} (${result.output}); driver sockets: ${logout ? 'LOGOUT and GETPID' : 'one connection per driver for its whole life, no LOGOUT/GETPID'}`,
      );
    } else {
      this.log.warn(
        { reason: result.reason },
        `NUT version unknown (${result.reason}): driver sockets are used as on NUT 2.8.0 (no LOGOUT, no GETPID) and instant commands always need TRACKING`,
      );
    }
  }

  /** Ends supervision decisions at once (no recovery, no upsd restart) while the rest of the agent shuts down. */
  prepareStop(): void {
    for (const ups of this.upses.values()) ups.prepareStop();
    this.upsd.prepareStop();
  }

  /** Stops polling, every driver and upsd (graceful, then forced). Nothing is left running. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.prepareStop();
    this.log.info('stopping NUT processes');
    await Promise.all([...this.upses.values()].map((ups) => ups.stop()));
    await this.upsd.stop();
    await this.client.close();
    this.log.info('all NUT processes stopped');
  }

  /** Restarts one UPS's driver; resolves when it has fresh data again or the recovery failed. */
  restartUps(name: string): Promise<RestartOutcome> {
    const ups = this.upses.get(name);
    if (!ups) throw new UnknownUpsError(name);
    return ups.requestRestart('manual');
  }

  /** upsd's `VER` reply, over the agent's persistent connection. */
  upsdVersion(): Promise<string> {
    return this.client.version();
  }

  /** Restarts upsd (and then the drivers, which NUT 2.8.0 needs). */
  restartUpsd(): Promise<void> {
    return this.upsd.restart('requested');
  }

  /**
   * Runs a NUT instant command through upsd on a separate, short-lived authenticated connection and follows it
   * with TRACKING to the driver's result. The caller has already checked the command against the allow-list; the
   * NUT client refuses names that could smuggle a second protocol line. Throws when upsd refuses the command.
   */
  async instcmd(name: string, command: string): Promise<InstcmdResult> {
    if (!this.upses.has(name)) throw new UnknownUpsError(name);
    const { username, password } = this.deps.credentials ?? {};
    if (!username) throw new Error('no NUT credentials configured (NUT_USERNAME / NUT_PASSWORD)');
    const result = await this.client.instcmd(
      name,
      command,
      { username, password: password ?? '' },
      {
        resultTimeoutMs: instcmdResultTimeoutMs(this.deps.timings),
        allowUntracked: this.capabilities.untrackedInstcmd,
      },
    );
    const nut = this.version ? `NUT ${this.version}` : 'NUT of unknown version';
    if (result.outcome === 'untracked') {
      this.log.warn(
        { ups: name, command, code: result.trackingRefused },
        `upsd refused SET TRACKING (ERR ${result.trackingRefused}); ${nut} is older than 2.8.1, so ${command} was sent without it: accepted, but its result is unknown`,
      );
    } else if (result.outcome === 'tracking-refused') {
      this.log.error(
        { ups: name, command, code: result.code },
        `upsd refused SET TRACKING (ERR ${result.code}); ${command} was not sent: NUT 2.8.1 drivers crash on an instant command without TRACKING, and ${nut} is not known to be older`,
      );
    }
    return result;
  }

  ups(name: string): UpsSupervisor | undefined {
    return this.upses.get(name);
  }

  snapshots(): UpsSnapshot[] {
    return [...this.upses.values()].map((ups) => ups.snapshot());
  }
}
