import type { Topics } from '../api/topics.js';
import type { AgentConfigShape } from '../config/schema.js';
import type { Extension } from '../extension.js';
import type { SupervisorPort } from '../supervisor/port.js';
import type { MqttConnection } from './connection.js';
import { bridgeInfo } from './payloads.js';

export interface InfoPublisherDeps {
  connection: MqttConnection;
  supervisor: Pick<SupervisorPort, 'upsNames' | 'upsdVersion'>;
  topics: Topics;
  config: AgentConfigShape;
  agentVersion: string;
  /** upsd's address. */
  upsd: { host: string; port: number };
}

// The version in upsd's VER reply ("Network UPS Tools upsd 2.8.0 - https://…"), as upsd spells it.
const VERSION_IN_VER = /\b(\d+\.\d+(?:\.\d+)*\S*)/;

/**
 * Retained `<base>/bridge/info` on every connect: versions, upsd's address, the UPS names, the settings without
 * secrets. NUT's version is asked of upsd at the first connect where upsd answers; the info is sent again then.
 */
export class InfoPublisher implements Extension {
  readonly name = 'mqtt-info';
  private readonly deps: InfoPublisherDeps;
  private nutVersion: string | undefined;
  private removeConnectListener: (() => void) | undefined;
  private stopped = false;

  constructor(deps: InfoPublisherDeps) {
    this.deps = deps;
  }

  async start(): Promise<void> {
    this.removeConnectListener = this.deps.connection.onConnect(() => {
      this.publish();
      if (this.nutVersion === undefined) void this.fetchNutVersion();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.removeConnectListener?.();
  }

  private publish(): void {
    const { config, supervisor, connection } = this.deps;
    const info = bridgeInfo({
      agentVersion: this.deps.agentVersion,
      ...(this.nutVersion === undefined ? {} : { nutVersion: this.nutVersion }),
      upsd: this.deps.upsd,
      upsNames: supervisor.upsNames,
      config: {
        mqtt: { ...config.mqtt, clientId: connection.clientId },
        homeassistant: config.homeassistant,
        nut: {
          confPath: config.nut.confPath,
          statePath: config.nut.statePath,
          username: config.nut.username,
          password: config.nut.password,
        },
        supervisor: config.supervisor,
      },
    });
    void connection.publish(this.deps.topics.bridgeInfo, JSON.stringify(info), { qos: 1, retain: true });
  }

  private async fetchNutVersion(): Promise<void> {
    try {
      const raw = await this.deps.supervisor.upsdVersion();
      this.nutVersion = VERSION_IN_VER.exec(raw)?.[1] ?? raw.trim();
      if (!this.stopped) this.publish();
    } catch {
      // upsd not answering yet: the next connect tries again.
    }
  }
}
