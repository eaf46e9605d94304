import type { AgentConfigShape } from './config/schema.js';
import { EventBus } from './events.js';
import type { Logger } from './logger.js';
import type { NutSetup } from './nut/nutSetup.js';
import { Supervisor } from './supervisor/supervisor.js';

export interface ControllerDeps {
  config: AgentConfigShape;
  setup: NutSetup;
  logger: Logger;
}

/**
 * Builds the pieces, starts them in order and stops them in reverse. Modules talk only through the event bus and
 * the supervisor's public methods.
 */
export class Controller {
  readonly bus = new EventBus();
  readonly supervisor: Supervisor;
  private readonly log: Logger;
  private stopping: Promise<void> | undefined;

  constructor(deps: ControllerDeps) {
    this.log = deps.logger;
    this.supervisor = new Supervisor({
      setup: deps.setup,
      timings: deps.config.supervisor,
      bus: this.bus,
      logger: deps.logger,
      credentials: { username: deps.config.nut.username, password: deps.config.nut.password },
    });
  }

  async start(): Promise<void> {
    await this.supervisor.start();
  }

  /** Idempotent: a second call waits for the first. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info('shutting down');
      await this.supervisor.stop();
    })();
    return this.stopping;
  }
}
