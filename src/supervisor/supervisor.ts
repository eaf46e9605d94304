import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import { NutClient } from '../nut/client.js';
import type { NutSetup } from '../nut/nutSetup.js';
import { clearStaleNutFiles } from './staleFiles.js';
import type { UpsSnapshot } from './types.js';
import { UpsdSupervisor } from './upsdSupervisor.js';
import { type RestartOutcome, type SupervisorTimings, UpsSupervisor } from './upsSupervisor.js';

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
 * Owns the NUT processes: upsd and one driver per UPS in ups.conf, each a watched child. Its public methods and
 * the event bus are all the rest of the agent (MQTT, health) ever sees.
 */
export class Supervisor {
  readonly client: NutClient;
  private readonly deps: SupervisorDeps;
  private readonly log: Logger;
  private readonly upses = new Map<string, UpsSupervisor>();
  private readonly upsd: UpsdSupervisor;
  private started = false;

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
        new UpsSupervisor({ ups, setup, timings, bus, logger: deps.logger, client: this.client }),
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

  get upsdPid(): number | undefined {
    return this.upsd.pid;
  }

  /** upsd runs and answered its last poll. */
  get upsdAnswering(): boolean {
    return this.upsd.answering;
  }

  /** Clears stale files, starts every driver, then upsd (it connects to the driver sockets as they appear). */
  async start(): Promise<void> {
    if (this.started) throw new Error('supervisor already started');
    this.started = true;
    await clearStaleNutFiles(this.deps.setup, this.log);
    this.log.info({ upses: this.upsNames }, `starting ${this.upses.size} UPS driver(s) and upsd`);
    for (const ups of this.upses.values()) ups.start();
    this.upsd.start();
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

  /** Restarts upsd (and then the drivers, which NUT 2.8.0 needs). */
  restartUpsd(): Promise<void> {
    return this.upsd.restart('requested');
  }

  /**
   * Runs a NUT instant command through upsd on a separate, short-lived authenticated connection. The caller has
   * already checked the command against the allow-list; the NUT client refuses names that could smuggle a second
   * protocol line.
   */
  async instcmd(name: string, command: string): Promise<void> {
    if (!this.upses.has(name)) throw new UnknownUpsError(name);
    const { username, password } = this.deps.credentials ?? {};
    if (!username) throw new Error('no NUT credentials configured (NUT_USERNAME / NUT_PASSWORD)');
    await this.client.instcmd(name, command, { username, password: password ?? '' });
  }

  ups(name: string): UpsSupervisor | undefined {
    return this.upses.get(name);
  }

  snapshots(): UpsSnapshot[] {
    return [...this.upses.values()].map((ups) => ups.snapshot());
  }
}
