import type { AgentConfigShape } from './config/schema.js';
import { EventBus } from './events.js';
import { evaluateHealth } from './health/healthCheck.js';
import { HealthServer } from './health/httpServer.js';
import { Metrics } from './health/metrics.js';
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
  private readonly metrics: Metrics | undefined;
  private readonly healthServer: HealthServer | undefined;

  constructor(deps: ControllerDeps) {
    this.log = deps.logger;
    this.supervisor = new Supervisor({
      setup: deps.setup,
      timings: deps.config.supervisor,
      bus: this.bus,
      logger: deps.logger,
      credentials: { username: deps.config.nut.username, password: deps.config.nut.password },
    });
    const { http } = deps.config;
    if (http.port !== 0) {
      const supervisor = this.supervisor;
      this.metrics = new Metrics({
        bus: this.bus,
        snapshots: () => supervisor.snapshots(),
        upsdAnswering: () => supervisor.upsdAnswering,
        mqttConnected: () => this.mqttConnected(),
      });
      this.healthServer = new HealthServer({
        host: http.host,
        port: http.port,
        health: () => evaluateHealth(supervisor.upsdAnswering, supervisor.snapshots()),
        metrics: this.metrics,
        logger: deps.logger.child({ module: 'http' }),
      });
    }
  }

  /** Whether the MQTT bridge is connected (false while MQTT is off). */
  mqttConnected(): boolean {
    return false;
  }

  async start(): Promise<void> {
    await this.supervisor.start();
    await this.healthServer?.start();
  }

  /** Idempotent: a second call waits for the first. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info('shutting down');
      await this.healthServer?.stop();
      this.metrics?.stop();
      await this.supervisor.stop();
    })();
    return this.stopping;
  }
}
