import type { AgentConfigShape } from './config/schema.js';
import { EventBus } from './events.js';
import { evaluateHealth } from './health/healthCheck.js';
import { HealthServer } from './health/httpServer.js';
import { Metrics } from './health/metrics.js';
import type { Logger } from './logger.js';
import { type BridgeTimings, MqttBridge } from './mqtt/bridge.js';
import type { NutSetup } from './nut/nutSetup.js';
import { Supervisor } from './supervisor/supervisor.js';
import { agentVersion } from './version.js';

export interface ControllerDeps {
  config: AgentConfigShape;
  setup: NutSetup;
  logger: Logger;
  /** Tests shorten the MQTT bridge's delays. */
  bridgeTimings?: Partial<BridgeTimings>;
}

/**
 * Builds the pieces, starts them in order and stops them in reverse. Modules talk only through the event bus and
 * the supervisor's public methods.
 */
export class Controller {
  readonly bus = new EventBus();
  readonly supervisor: Supervisor;
  /** Present unless MQTT is off (MQTT_URL empty). */
  readonly bridge: MqttBridge | undefined;
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
    this.bridge = deps.config.mqtt.url
      ? new MqttBridge({
          config: deps.config,
          supervisor: this.supervisor,
          bus: this.bus,
          logger: deps.logger,
          agentVersion: agentVersion(),
          upsd: deps.setup.address,
          ...(deps.bridgeTimings ? { timings: deps.bridgeTimings } : {}),
        })
      : undefined;
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
    return this.bridge?.mqtt.connected ?? false;
  }

  async start(): Promise<void> {
    await this.supervisor.start();
    // The bridge connects in the background: NUT is supervised whether the broker is up or not.
    if (!this.bridge) this.log.info('MQTT is off (MQTT_URL is empty)');
    this.bridge?.start();
    await this.healthServer?.start();
  }

  /** Idempotent: a second call waits for the first. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info('shutting down');
      this.supervisor.prepareStop();
      await this.healthServer?.stop();
      this.metrics?.stop();
      // Before the supervisor: the bridge publishes `offline` while it still can, then nothing calls the supervisor.
      await this.bridge?.stop();
      await this.supervisor.stop();
    })();
    return this.stopping;
  }
}
