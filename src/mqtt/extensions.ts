import { hostname as osHostname } from 'node:os';
import type { SelfTestType } from '../api/commands.js';
import { checkUpsName, topicsFor } from '../api/topics.js';
import type { AgentConfigShape } from '../config/schema.js';
import { EnergyMeter } from '../energy/energyMeter.js';
import type { EventBus } from '../events.js';
import type { Extension } from '../extension.js';
import type { EpisodeCounts } from '../hints/episodeCounter.js';
import { HistoryExtension } from '../history/historyExtension.js';
import { SelfTestExtension } from '../history/selfTestExtension.js';
import { scheduleRunnable, scheduleSettings } from '../history/selfTestSchedule.js';
import type { DiscoveryContext } from '../homeassistant/types.js';
import type { Logger } from '../logger.js';
import type { SupervisorPort } from '../supervisor/port.js';
import { CommandHandler } from './commandHandler.js';
import { CommandListener } from './commandListener.js';
import { MqttConnection } from './connection.js';
import { DiscoveryPublisher } from './discoveryPublisher.js';
import { EventPublisher } from './eventPublisher.js';
import { HistoryPublisher } from './historyPublisher.js';
import { InfoPublisher } from './infoPublisher.js';
import { StatePublisher } from './statePublisher.js';
import { commandTimeouts, MQTT_TIMINGS, type MqttTimings } from './timings.js';

export interface MqttExtensionsDeps {
  config: AgentConfigShape;
  supervisor: SupervisorPort;
  bus: EventBus;
  logger: Logger;
  agentVersion: string;
  /** upsd's address, for bridge/info. */
  upsd: { host: string; port: number };
  hostname?: string;
  timings?: Partial<MqttTimings>;
  /** Each UPS's fault episodes in the last 24 h, for its state (`supervisor.episodes_24h`). */
  episodes?: (ups: string) => EpisodeCounts;
}

/**
 * The MQTT side of the agent: one connection and the extensions that share it, in start order. Stopped in reverse,
 * the command handler answers what is pending, every UPS goes `offline`, and last the connection publishes the
 * agent's `offline` and disconnects. Supervision never waits on any of it: every publish is fire-and-forget.
 */
export function mqttExtensions(deps: MqttExtensionsDeps): {
  connection: MqttConnection;
  extensions: Extension[];
} {
  const { config, supervisor, bus, logger } = deps;
  const timings = { ...MQTT_TIMINGS, ...deps.timings };
  const topics = topicsFor(config.mqtt.baseTopic);
  const hostname = deps.hostname ?? osHostname();
  const upsNames = topicSafeUpsNames(supervisor.upsNames, logger);
  const connection = new MqttConnection({
    config: config.mqtt,
    logger,
    willTopic: topics.bridgeState,
    hostname,
    backoff: { initialMs: timings.backoffInitialMs, maxMs: timings.backoffMaxMs },
  });
  const info = new InfoPublisher({
    connection,
    supervisor,
    topics,
    config,
    agentVersion: deps.agentVersion,
    upsd: deps.upsd,
  });
  const energy = new EnergyMeter({
    supervisor,
    bus,
    logger,
    upsNames,
    dataPath: config.supervisor.dataPath,
    pollIntervalMs: config.supervisor.pollInterval,
    powerFactor: config.homeassistant.powerFactor,
  });
  const state = new StatePublisher({
    connection,
    supervisor,
    bus,
    topics,
    upsNames,
    coalesceMs: timings.coalesceMs,
    refreshIntervalMs: config.mqtt.stateRefreshInterval,
    energy: (snapshot) => energy.reading(snapshot.name, snapshot),
    ...(deps.episodes ? { episodes: deps.episodes } : {}),
  });
  const events = new EventPublisher({ connection, bus, topics, upsNames, logger });
  const history = new HistoryExtension({
    supervisor,
    bus,
    logger,
    upsNames,
    dataPath: config.supervisor.dataPath,
    energyKwh: (ups) => {
      const snapshot = supervisor.snapshot(ups);
      return (snapshot && energy.reading(ups, snapshot)?.kwh) ?? null;
    },
    outageEventWindowMs: timings.outageEventWindowMs,
  });
  const schedule = scheduleSettings(config.battery);
  const selfTests = new SelfTestExtension({
    supervisor,
    bus,
    logger,
    upsNames,
    allowedInstcmds: config.mqtt.instcmdAllow,
    hasCredentials: config.nut.username !== '',
    schedule,
    lastSelfTest: (ups) => history.lastSelfTest(ups),
    checkIntervalMs: timings.selfTestCheckIntervalMs,
  });
  const historyState = new HistoryPublisher({
    connection,
    supervisor,
    bus,
    topics,
    upsNames,
    history,
    selfTests,
    lifeMonths: config.battery.lifeMonths,
    minIntervalMs: timings.historyMinIntervalMs,
    liveIntervalMs: timings.historyLiveIntervalMs,
    refreshIntervalMs: config.mqtt.stateRefreshInterval,
  });
  const handler = new CommandHandler({
    ...commandSettings(config),
    supervisor,
    bus,
    topics,
    logger,
    selfTest: selfTests,
    respond: (topic, response) => events.publish(topic, JSON.stringify(response)),
  });
  const commands = new CommandListener({ connection, topics, handler, logger });
  const discovery = config.homeassistant.discovery
    ? new DiscoveryPublisher({
        connection,
        supervisor,
        bus,
        topics,
        upsNames,
        ctx: discoveryContext(config, deps.agentVersion),
        statusTopic: config.homeassistant.statusTopic,
        timings,
        republishState: () => {
          state.republishAll();
          historyState.republishAll();
        },
        logger,
      })
    : undefined;
  // The meter starts first and stops last, so its final total is on disk after the last state was published. The
  // history starts after the event publisher (its first events, such as a gap while the agent was down, must get out)
  // and stops before it (a flapping input's held outages are told at stop).
  const extensions = [
    energy,
    connection,
    info,
    state,
    events,
    history,
    selfTests,
    historyState,
    ...(discovery ? [discovery] : []),
    commands,
  ];
  return { connection, extensions };
}

/** The command handler's settings: MQTT_INSTCMD_ALLOW, MQTT_COMMAND_COOLDOWN, the timeouts. */
function commandSettings(config: AgentConfigShape) {
  return {
    allowedInstcmds: config.mqtt.instcmdAllow,
    cooldownMs: config.mqtt.commandCooldown,
    ...commandTimeouts(config.supervisor),
  };
}

function discoveryContext(config: AgentConfigShape, agentVersion: string): DiscoveryContext {
  return {
    baseTopic: config.mqtt.baseTopic,
    discoveryPrefix: config.homeassistant.discoveryPrefix,
    agentId: agentDeviceName(config.homeassistant.deviceName, config.mqtt.baseTopic),
    agentVersion,
    powerFactor: config.homeassistant.powerFactor,
    allowedInstcmds: config.mqtt.instcmdAllow,
    ...selfTestScheduleOf(config),
    batteryLifeMonths: config.battery.lifeMonths,
    origin: { name: 'nut-mqtt', sw_version: agentVersion },
  };
}

/** The scheduled self-test's kind, when the schedule can run (on, its command allowed, NUT credentials set). */
function selfTestScheduleOf(config: AgentConfigShape): { selfTestSchedule?: SelfTestType } {
  const schedule = scheduleSettings(config.battery);
  return scheduleRunnable(schedule, config.mqtt.instcmdAllow, config.nut.username !== '')
    ? { selfTestSchedule: schedule.type }
    : {};
}

/**
 * The agent's device name in Home Assistant (HA_DEVICE_NAME): what the user set, else `nut-mqtt`, with the base
 * topic when it is not the default so two agents on one broker are told apart. Never the host name: in Docker that
 * is a random container id, and it changes with every re-created container.
 */
export function agentDeviceName(setting: string, baseTopic: string): string {
  const name = setting.trim();
  if (name) return name;
  return baseTopic === 'nut' ? 'nut-mqtt' : `nut-mqtt (${baseTopic})`;
}

/** UPS names that can be one topic level; the others are left out of MQTT, each with one warning. */
function topicSafeUpsNames(names: readonly string[], logger: Logger): string[] {
  return names.filter((name) => {
    const check = checkUpsName(name);
    if (!check.ok) logger.warn(`UPS ${JSON.stringify(name)} is left out of MQTT: ${check.message}`);
    return check.ok;
  });
}
