import type { AgentConfigShape } from './config/schema.js';
import { EventBus } from './events.js';
import type { Extension } from './extension.js';
import { evaluateHealth } from './health/healthCheck.js';
import { HealthFile } from './health/healthFile.js';
import { HealthServer } from './health/httpServer.js';
import { Metrics } from './health/metrics.js';
import { EpisodeCounter } from './hints/episodeCounter.js';
import { TuningHintsExtension } from './hints/tuningHintsExtension.js';
import type { Logger } from './logger.js';
import type { MqttConnection } from './mqtt/connection.js';
import { mqttExtensions } from './mqtt/extensions.js';
import type { MqttTimings } from './mqtt/timings.js';
import type { NutSetup } from './nut/nutSetup.js';
import { type SupervisorPort, supervisorPort } from './supervisor/port.js';
import { Supervisor } from './supervisor/supervisor.js';
import { agentVersion } from './version.js';

export interface ControllerDeps {
  config: AgentConfigShape;
  setup: NutSetup;
  logger: Logger;
  /** Tests shorten the MQTT side's delays. */
  mqttTimings?: Partial<MqttTimings>;
}

/**
 * Builds the supervisor and the extensions around it, starts the supervisor and then the extensions in order, and
 * stops them in reverse, the supervisor last. Extensions see the supervisor only through its port and the bus.
 */
export class Controller {
  readonly bus = new EventBus();
  readonly supervisor: Supervisor;
  /** The MQTT connection; undefined while MQTT is off (MQTT_URL empty). */
  readonly mqtt: MqttConnection | undefined;
  /** Each UPS's fault episodes in the last 24 h: fed by the tuning hints, read by the state and the metrics. */
  readonly episodes = new EpisodeCounter({ now: Date.now });
  private readonly extensions: readonly Extension[];
  private readonly started: Extension[] = [];
  private readonly log: Logger;
  private stopping: Promise<void> | undefined;

  constructor(deps: ControllerDeps) {
    const { config, setup, logger } = deps;
    this.log = logger;
    this.supervisor = new Supervisor({
      setup,
      timings: config.supervisor,
      bus: this.bus,
      logger,
      credentials: { username: config.nut.username, password: config.nut.password },
    });
    const port = supervisorPort(this.supervisor);
    const hints = new TuningHintsExtension({
      bus: this.bus,
      supervisor: port,
      episodes: this.episodes,
      upses: setup.upses,
      nutVersion: () => this.supervisor.nutVersion,
      threshold: config.supervisor.hintEpisodesPerDay,
      logger,
    });
    const episodes = (ups: string) => this.episodes.counts(ups);
    const mqtt = config.mqtt.url
      ? mqttExtensions({
          config,
          supervisor: port,
          bus: this.bus,
          logger,
          agentVersion: agentVersion(),
          upsd: setup.address,
          episodes,
          ...(deps.mqttTimings ? { timings: deps.mqttTimings } : {}),
        })
      : undefined;
    this.mqtt = mqtt?.connection;
    // The counter first: an episode is counted before the state that shows it is published.
    this.extensions = [hints, ...(mqtt?.extensions ?? []), ...this.healthExtensions(config, port, logger)];
  }

  /** Whether the MQTT connection is up (false while MQTT is off). */
  mqttConnected(): boolean {
    return this.mqtt?.connected ?? false;
  }

  /** The supervisor first (NUT is supervised whether the broker is up or not), then every extension in order. */
  async start(): Promise<void> {
    await this.supervisor.start();
    if (!this.mqtt) this.log.info('MQTT is off (MQTT_URL is empty)');
    for (const extension of this.extensions) {
      this.started.push(extension);
      await extension.start();
    }
  }

  /**
   * Idempotent: a second call waits for the first. Supervision decisions end first; the extensions stop in reverse
   * (MQTT publishes `offline` while it still can), then the supervisor stops NUT.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info('shutting down');
      this.supervisor.prepareStop();
      for (const extension of this.started.splice(0).reverse()) {
        await extension.stop().catch((error: unknown) => {
          this.log.error({ err: error, extension: extension.name }, `stopping ${extension.name} failed`);
        });
      }
      await this.supervisor.stop();
    })();
    return this.stopping;
  }

  /** Prometheus metrics and the health listener when HTTP_PORT is set; the health file when HEALTH_FILE is. */
  private healthExtensions(config: AgentConfigShape, port: SupervisorPort, logger: Logger): Extension[] {
    const health = () => evaluateHealth(port.upsdAnswering(), port.snapshots());
    const { healthFile, healthFileInterval } = config.supervisor;
    const file = healthFile
      ? [new HealthFile({ file: healthFile, intervalMs: healthFileInterval, health, logger })]
      : [];
    if (config.http.port === 0) return file;
    const metrics = new Metrics({
      bus: this.bus,
      snapshots: () => port.snapshots(),
      upsdAnswering: () => port.upsdAnswering(),
      mqttConnected: () => this.mqttConnected(),
      episodes: (ups) => this.episodes.counts(ups),
    });
    const server = new HealthServer({
      host: config.http.host,
      port: config.http.port,
      health,
      metrics,
      logger: logger.child({ module: 'http' }),
    });
    return [metrics, server, ...file];
  }
}
