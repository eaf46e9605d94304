import type { Schema } from 'convict';
import { type BatterySettings, batterySchema } from './batterySchema.js';
import { envNameOf } from './envNames.js';
import {
  brokerUrl,
  confValue,
  displayName,
  driverNameFormat,
  ipAddress,
  pathOrEmpty,
  positiveMs,
  topicLevel,
  topicName,
  upsNameFormat,
  usbId,
  userName,
} from './formats.js';
import { type SupervisorSettings, supervisorSchema } from './supervisorSchema.js';

/**
 * The one configuration schema. Sources, later wins: defaults < config file (JSON or YAML) < environment.
 * Nothing of NUT's own configuration is duplicated here: the UPS list, the drivers and upsd's LISTEN address
 * come from NUT's files in NUT_CONFPATH. Durations are milliseconds.
 */
export interface AgentConfigShape {
  nut: {
    confPath: string;
    statePath: string;
    altPidPath: string;
    driverPath: string;
    upsdPath: string;
    user: string;
    username: string;
    password: string;
    passwordFile: string;
  };
  mqtt: {
    url: string;
    protocolVersion: number;
    username: string;
    password: string;
    passwordFile: string;
    clientId: string;
    caFile: string;
    certFile: string;
    keyFile: string;
    rejectUnauthorized: boolean;
    baseTopic: string;
    stateRefreshInterval: number;
    commandCooldown: number;
    instcmdAllow: string[];
  };
  homeassistant: {
    discovery: boolean;
    discoveryPrefix: string;
    statusTopic: string;
    deviceName: string;
    powerFactor: number;
  };
  http: { port: number; host: string };
  init: {
    onStart: boolean;
    upsName: string;
    upsDriver: string;
    upsPort: string;
    upsVendorId: string;
    upsProductId: string;
    upsDesc: string;
    listenHost: string;
    listenPort: number;
  };
  log: { level: string };
  supervisor: SupervisorSettings;
  battery: BatterySettings;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Every setting: its doc, format and default; its environment variable follows the rule of envNames.ts. */
export const schema: Schema<AgentConfigShape> = withEnvNames({
  nut: {
    confPath: {
      doc: 'Folder with NUT configuration (ups.conf, upsd.conf, upsd.users), as NUT itself reads it.',
      format: pathOrEmpty,
      default: '/etc/nut',
    },
    statePath: {
      doc: "Folder for driver sockets. Empty: the platform's (/run/nut on Debian, /var/run/nut on Alpine).",
      format: pathOrEmpty,
      default: '',
    },
    altPidPath: {
      doc: 'Folder for NUT pid files. Empty: the state path.',
      format: pathOrEmpty,
      default: '',
    },
    driverPath: {
      doc: 'Folder of NUT driver binaries. Empty: found automatically (/lib/nut on Debian 12 and 13, /usr/libexec/nut on Debian sid, /usr/lib/nut on Alpine).',
      format: pathOrEmpty,
      default: '',
    },
    upsdPath: {
      doc: 'The upsd binary. Empty: found automatically (/lib/nut/upsd on Debian 12 and 13, where /usr/sbin/upsd is a wrapper script that is skipped; /usr/sbin/upsd on Debian sid and Alpine).',
      format: pathOrEmpty,
      default: '',
    },
    user: {
      doc: 'User that upsd and the drivers run as (passed as -u). Empty: NUT decides.',
      format: userName,
      default: '',
    },
    username: {
      doc: 'upsd.users user for instant commands from MQTT (needs instcmds rights). Empty: instant commands off.',
      format: String,
      default: '',
    },
    password: {
      doc: 'Password of NUT_USERNAME.',
      format: String,
      default: '',
      sensitive: true,
    },
    passwordFile: {
      doc: 'File holding the password of NUT_USERNAME (Docker secrets); wins over NUT_PASSWORD.',
      format: pathOrEmpty,
      default: '',
    },
  },
  mqtt: {
    url: {
      doc: 'Broker URL: mqtt://, mqtts://, ws:// or wss://. Empty: MQTT off (supervision only).',
      format: brokerUrl,
      default: 'mqtt://localhost:1883',
    },
    protocolVersion: {
      doc: 'MQTT protocol version: 5, or 4 for MQTT 3.1.1.',
      format: [4, 5],
      default: 5,
    },
    username: { doc: 'Broker user name.', format: String, default: '' },
    password: { doc: 'Broker password.', format: String, default: '', sensitive: true },
    passwordFile: {
      doc: 'File holding the broker password (Docker secrets); wins over MQTT_PASSWORD.',
      format: pathOrEmpty,
      default: '',
    },
    clientId: {
      doc: 'MQTT client id. Empty: nut-mqtt_<base topic>_<host name>, stable across restarts.',
      format: String,
      default: '',
    },
    caFile: {
      doc: 'CA certificate (PEM) to verify the broker.',
      format: pathOrEmpty,
      default: '',
    },
    certFile: { doc: 'Client certificate (PEM).', format: pathOrEmpty, default: '' },
    keyFile: { doc: 'Client private key (PEM).', format: pathOrEmpty, default: '' },
    rejectUnauthorized: {
      doc: 'Refuse a broker whose TLS certificate does not verify. Only turn off for testing.',
      format: 'switch',
      default: true,
    },
    baseTopic: {
      doc: 'First level of every topic.',
      format: topicLevel,
      default: 'nut',
    },
    stateRefreshInterval: {
      doc: 'Milliseconds between republishing every UPS state even when nothing changed.',
      ...positiveMs(1000, 86_400_000),
      default: 60_000,
    },
    commandCooldown: {
      doc: 'Milliseconds after a restart command completes during which further restarts of that UPS are refused.',
      ...positiveMs(0, 3_600_000),
      default: 10_000,
    },
    instcmdAllow: {
      doc: 'NUT instant commands that MQTT may run (comma-separated, e.g. beeper.disable,test.battery.start.quick).',
      format: 'command-list',
      default: [],
    },
  },
  homeassistant: {
    discovery: {
      doc: 'Publish Home Assistant MQTT discovery.',
      format: 'switch',
      default: true,
    },
    discoveryPrefix: {
      doc: "Home Assistant's discovery prefix.",
      format: topicLevel,
      default: 'homeassistant',
    },
    statusTopic: {
      doc: "Home Assistant's birth/last-will topic; 'online' there makes the agent republish discovery and state.",
      format: topicName,
      default: 'homeassistant/status',
    },
    deviceName: {
      doc: "Name of the agent's own device in Home Assistant. Empty: `nut-mqtt`, or `nut-mqtt (<base topic>)` when MQTT_BASE_TOPIC is not `nut` (never the host name, which is a random id in Docker).",
      format: displayName,
      default: '',
    },
    powerFactor: {
      doc: 'Power factor (0 to 1, e.g. 0.6) for UPSes that report only ups.load and ups.power.nominal (VA): power_w = load × VA × this. 0: unset, such UPSes get no power or energy (a factor is never guessed).',
      format: 'power-factor',
      default: 0,
    },
  },
  http: {
    port: {
      doc: 'Port of the health (/healthz) and Prometheus (/metrics) listener. 0: off.',
      format: 'port',
      default: 0,
    },
    host: {
      doc: 'Address the health and metrics listener binds to.',
      format: ipAddress,
      default: '127.0.0.1',
    },
  },
  init: {
    onStart: {
      doc: 'On `run`, first write a default NUT configuration into an empty NUT_CONFPATH (as `init-config` does).',
      format: 'switch',
      default: false,
    },
    upsName: {
      doc: 'init-config: name of the UPS section.',
      format: upsNameFormat,
      default: 'ups',
    },
    upsDriver: {
      doc: 'init-config: NUT driver.',
      format: driverNameFormat,
      default: 'usbhid-ups',
    },
    upsPort: { doc: "init-config: the driver's port.", format: confValue, default: 'auto' },
    upsVendorId: {
      doc: 'init-config: USB vendor id (4 hex digits), optional.',
      format: usbId,
      default: '',
    },
    upsProductId: {
      doc: 'init-config: USB product id (4 hex digits), optional.',
      format: usbId,
      default: '',
    },
    upsDesc: { doc: 'init-config: description of the UPS.', format: confValue, default: '' },
    listenHost: {
      doc: 'init-config: address upsd listens on.',
      format: ipAddress,
      default: '0.0.0.0',
    },
    listenPort: {
      doc: 'init-config: port upsd listens on.',
      format: 'port',
      default: 3493,
    },
  },
  log: {
    level: {
      doc: 'Log level.',
      format: [...LOG_LEVELS],
      default: 'info',
    },
  },
  supervisor: supervisorSchema,
  battery: batterySchema,
});

/** Sets each setting's `env` by the naming rule (envNameOf), so no name can stray from it. */
function withEnvNames<T>(node: T, prefix = ''): T {
  for (const [name, value] of Object.entries(node as Record<string, Record<string, unknown>>)) {
    const key = prefix ? `${prefix}.${name}` : name;
    if ('default' in value) value.env = envNameOf(key);
    else withEnvNames(value, key);
  }
  return node;
}
