import { isIP } from 'node:net';
import convict, { type Schema, type SchemaObj } from 'convict';

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
    stateRefresh: number;
    commandCooldown: number;
    instcmdAllow: string[];
  };
  homeassistant: {
    discovery: boolean;
    discoveryPrefix: string;
    statusTopic: string;
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
  supervisor: {
    pollInterval: number;
    probeInterval: number;
    probeTimeout: number;
    staleGrace: number;
    startTimeout: number;
    verifyTimeout: number;
    stopTimeout: number;
    backoffInitial: number;
    backoffMax: number;
    breakerRestarts: number;
    breakerWindow: number;
    failedRetry: number;
    requestTimeout: number;
    upsdFailureThreshold: number;
  };
}

/** Whole numbers only: convict's built-in coercion would read "2000abc" from the environment as 2000. */
function wholeNumber(unit: string) {
  return {
    validate(value: unknown, item: SchemaObj) {
      const { min = 0, max = Number.MAX_SAFE_INTEGER } = item as { min?: number; max?: number };
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        throw new Error(`must be a whole number${unit} from ${min} to ${max}`);
      }
    },
    coerce: (raw: string) => (/^\s*\d+\s*$/.test(raw) ? Number(raw) : raw),
  };
}

convict.addFormat({ name: 'ms', ...wholeNumber(' of milliseconds') });
convict.addFormat({ name: 'count', ...wholeNumber('') });

const positiveMs = (min: number, max: number) => ({ format: 'ms', min, max });
const count = (min: number, max: number) => ({ format: 'count', min, max });

const pathOrEmpty = (value: unknown) => {
  if (typeof value !== 'string') throw new Error('must be a path (string)');
  if (value !== '' && !value.startsWith('/')) throw new Error('must be an absolute path');
  if (/[\0\n\r]/.test(value)) throw new Error('must not contain control characters');
};

const userName = (value: unknown) => {
  if (typeof value !== 'string' || (value !== '' && !/^[a-z_][a-z0-9_-]{0,31}$/i.test(value))) {
    throw new Error('must be a user name (letters, digits, _ and -)');
  }
};

const brokerUrl = (value: unknown) => {
  if (typeof value !== 'string') throw new Error('must be a URL');
  if (value === '') return;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error('must be a URL like mqtt://host:1883');
  }
  if (!['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(url.protocol)) {
    throw new Error('must use mqtt://, mqtts://, ws:// or wss://');
  }
};

/** One topic level: no wildcards, no separators, nothing a broker would refuse. */
const topicLevel = (value: unknown) => {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]+$/.test(value)) {
    throw new Error('must be one topic level of letters, digits, _ and -');
  }
};

const topicName = (value: unknown) => {
  if (
    typeof value !== 'string' ||
    value === '' ||
    /[+#\0]/.test(value) ||
    value.split('/').some((l) => l === '')
  ) {
    throw new Error('must be a topic without wildcards or empty levels');
  }
};

/** Instant command names as NUT spells them (beeper.disable, test.battery.start.quick, driver.reload-or-exit). */
const commandList = (value: unknown) => {
  if (!Array.isArray(value)) throw new Error('must be a comma-separated list of instant command names');
  for (const name of value) {
    if (
      typeof name !== 'string' ||
      !/^[a-z0-9][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)*$/.test(name) ||
      name.length > 64
    ) {
      throw new Error(`${JSON.stringify(String(name).slice(0, 40))} is not an instant command name`);
    }
  }
};

const SWITCH_WORDS: Record<string, boolean> = {
  true: true,
  false: false,
  '1': true,
  '0': false,
  yes: true,
  no: false,
  on: true,
  off: false,
};

/** convict's own boolean coercion reads any word but "false" as true; "no" must not mean yes. */
convict.addFormat({
  name: 'switch',
  validate: (value: unknown) => {
    if (typeof value !== 'boolean') throw new Error('must be true or false (also 1/0, yes/no, on/off)');
  },
  coerce: (raw: string) => SWITCH_WORDS[raw.trim().toLowerCase()] ?? raw,
});

convict.addFormat({
  name: 'command-list',
  validate: commandList,
  coerce: (raw: string) =>
    raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
});

const upsNameFormat = (value: unknown) => {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(value)) {
    throw new Error('must be a UPS name of letters, digits, _, . and -');
  }
};

const driverNameFormat = (value: unknown) => {
  if (typeof value !== 'string' || !/^[a-z0-9_-]{1,64}$/.test(value))
    throw new Error('must be a NUT driver name like usbhid-ups');
};

/** A value that goes into a NUT config file: one line, no quotes that could break out of it. */
const confValue = (value: unknown) => {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must be refused
  if (typeof value !== 'string' || /[\0-\x1f"\\]/.test(value) || value.length > 200) {
    throw new Error('must be one line without quotes or backslashes');
  }
};

const ipAddress = (value: unknown) => {
  if (typeof value !== 'string' || isIP(value) === 0) throw new Error('must be an IPv4 or IPv6 address');
};

const usbId = (value: unknown) => {
  if (typeof value !== 'string' || (value !== '' && !/^[0-9a-fA-F]{4}$/.test(value)))
    throw new Error('must be 4 hex digits');
};

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const schema: Schema<AgentConfigShape> = {
  nut: {
    confPath: {
      doc: 'Folder with NUT configuration (ups.conf, upsd.conf, upsd.users), as NUT itself reads it.',
      format: pathOrEmpty,
      default: '/etc/nut',
      env: 'NUT_CONFPATH',
    },
    statePath: {
      doc: "Folder for driver sockets. Empty: the platform's (/run/nut on Debian, /var/run/nut on Alpine).",
      format: pathOrEmpty,
      default: '',
      env: 'NUT_STATEPATH',
    },
    altPidPath: {
      doc: 'Folder for NUT pid files. Empty: the state path.',
      format: pathOrEmpty,
      default: '',
      env: 'NUT_ALTPIDPATH',
    },
    driverPath: {
      doc: 'Folder of NUT driver binaries. Empty: found automatically (/lib/nut on Debian 12 and 13, /usr/libexec/nut on Debian sid, /usr/lib/nut on Alpine).',
      format: pathOrEmpty,
      default: '',
      env: 'NUT_DRIVER_PATH',
    },
    upsdPath: {
      doc: 'The upsd binary. Empty: found automatically (/lib/nut/upsd on Debian 12 and 13, where /usr/sbin/upsd is a wrapper script that is skipped; /usr/sbin/upsd on Debian sid and Alpine).',
      format: pathOrEmpty,
      default: '',
      env: 'NUT_UPSD_PATH',
    },
    user: {
      doc: 'User that upsd and the drivers run as (passed as -u). Empty: NUT decides.',
      format: userName,
      default: '',
      env: 'NUT_USER',
    },
    username: {
      doc: 'upsd.users user for instant commands from MQTT (needs instcmds rights). Empty: instant commands off.',
      format: String,
      default: '',
      env: 'NUT_USERNAME',
    },
    password: {
      doc: 'Password of NUT_USERNAME.',
      format: String,
      default: '',
      env: 'NUT_PASSWORD',
      sensitive: true,
    },
    passwordFile: {
      doc: 'File holding the password of NUT_USERNAME (Docker secrets); wins over NUT_PASSWORD.',
      format: pathOrEmpty,
      default: '',
      env: 'NUT_PASSWORD_FILE',
    },
  },
  mqtt: {
    url: {
      doc: 'Broker URL: mqtt://, mqtts://, ws:// or wss://. Empty: MQTT off (supervision only).',
      format: brokerUrl,
      default: 'mqtt://localhost:1883',
      env: 'MQTT_URL',
    },
    protocolVersion: {
      doc: 'MQTT protocol version: 5, or 4 for MQTT 3.1.1.',
      format: [4, 5],
      default: 5,
      env: 'MQTT_PROTOCOL_VERSION',
    },
    username: { doc: 'Broker user name.', format: String, default: '', env: 'MQTT_USERNAME' },
    password: { doc: 'Broker password.', format: String, default: '', env: 'MQTT_PASSWORD', sensitive: true },
    passwordFile: {
      doc: 'File holding the broker password (Docker secrets); wins over MQTT_PASSWORD.',
      format: pathOrEmpty,
      default: '',
      env: 'MQTT_PASSWORD_FILE',
    },
    clientId: {
      doc: 'MQTT client id. Empty: nut-mqtt_<base topic>_<host name>, stable across restarts.',
      format: String,
      default: '',
      env: 'MQTT_CLIENT_ID',
    },
    caFile: {
      doc: 'CA certificate (PEM) to verify the broker.',
      format: pathOrEmpty,
      default: '',
      env: 'MQTT_CA_FILE',
    },
    certFile: { doc: 'Client certificate (PEM).', format: pathOrEmpty, default: '', env: 'MQTT_CERT_FILE' },
    keyFile: { doc: 'Client private key (PEM).', format: pathOrEmpty, default: '', env: 'MQTT_KEY_FILE' },
    rejectUnauthorized: {
      doc: 'Refuse a broker whose TLS certificate does not verify. Only turn off for testing.',
      format: 'switch',
      default: true,
      env: 'MQTT_REJECT_UNAUTHORIZED',
    },
    baseTopic: {
      doc: 'First level of every topic.',
      format: topicLevel,
      default: 'nut',
      env: 'MQTT_BASE_TOPIC',
    },
    stateRefresh: {
      doc: 'Seconds between republishing every UPS state even when nothing changed.',
      ...count(1, 86_400),
      default: 60,
      env: 'STATE_REFRESH',
    },
    commandCooldown: {
      doc: 'Milliseconds after a restart command completes during which further restarts of that UPS are refused.',
      ...positiveMs(0, 3_600_000),
      default: 10_000,
      env: 'COMMAND_COOLDOWN',
    },
    instcmdAllow: {
      doc: 'NUT instant commands that MQTT may run (comma-separated, e.g. beeper.disable,test.battery.start.quick).',
      format: 'command-list',
      default: [],
      env: 'INSTCMD_ALLOW',
    },
  },
  homeassistant: {
    discovery: {
      doc: 'Publish Home Assistant MQTT discovery.',
      format: 'switch',
      default: true,
      env: 'HA_DISCOVERY',
    },
    discoveryPrefix: {
      doc: "Home Assistant's discovery prefix.",
      format: topicLevel,
      default: 'homeassistant',
      env: 'HA_DISCOVERY_PREFIX',
    },
    statusTopic: {
      doc: "Home Assistant's birth/last-will topic; 'online' there makes the agent republish discovery and state.",
      format: topicName,
      default: 'homeassistant/status',
      env: 'HA_STATUS_TOPIC',
    },
  },
  http: {
    port: {
      doc: 'Port of the health (/healthz) and Prometheus (/metrics) listener. 0: off.',
      format: 'port',
      default: 0,
      env: 'HTTP_PORT',
    },
    host: {
      doc: 'Address the health and metrics listener binds to.',
      format: ipAddress,
      default: '127.0.0.1',
      env: 'HTTP_HOST',
    },
  },
  init: {
    onStart: {
      doc: 'On `run`, first write a default NUT configuration into an empty NUT_CONFPATH (as `init-config` does).',
      format: 'switch',
      default: false,
      env: 'INIT_CONFIG',
    },
    upsName: {
      doc: 'init-config: name of the UPS section.',
      format: upsNameFormat,
      default: 'ups',
      env: 'UPS_NAME',
    },
    upsDriver: {
      doc: 'init-config: NUT driver.',
      format: driverNameFormat,
      default: 'usbhid-ups',
      env: 'UPS_DRIVER',
    },
    upsPort: { doc: "init-config: the driver's port.", format: confValue, default: 'auto', env: 'UPS_PORT' },
    upsVendorId: {
      doc: 'init-config: USB vendor id (4 hex digits), optional.',
      format: usbId,
      default: '',
      env: 'UPS_VENDORID',
    },
    upsProductId: {
      doc: 'init-config: USB product id (4 hex digits), optional.',
      format: usbId,
      default: '',
      env: 'UPS_PRODUCTID',
    },
    upsDesc: { doc: 'init-config: description of the UPS.', format: confValue, default: '', env: 'UPS_DESC' },
    listenHost: {
      doc: 'init-config: address upsd listens on.',
      format: ipAddress,
      default: '0.0.0.0',
      env: 'UPSD_LISTEN',
    },
    listenPort: {
      doc: 'init-config: port upsd listens on.',
      format: 'port',
      default: 3493,
      env: 'UPSD_PORT',
    },
  },
  log: {
    level: {
      doc: 'Log level.',
      format: [...LOG_LEVELS],
      default: 'info',
      env: 'LOG_LEVEL',
    },
  },
  supervisor: {
    pollInterval: {
      doc: 'Milliseconds between health polls of upsd for every UPS.',
      ...positiveMs(100, 600_000),
      default: 2000,
      env: 'POLL_INTERVAL',
    },
    probeInterval: {
      doc: "Milliseconds between PINGs on each driver's socket (hang detection).",
      ...positiveMs(50, 600_000),
      default: 500,
      env: 'PROBE_INTERVAL',
    },
    probeTimeout: {
      doc: 'Milliseconds without PONG before a driver counts as hung (dummy-ups can take ~1 s to answer).',
      ...positiveMs(500, 600_000),
      default: 2000,
      env: 'PROBE_TIMEOUT',
    },
    staleGrace: {
      doc: 'Milliseconds a driver may report stale data before it is restarted. NUT has already waited (MAXAGE, or the driver its failed polls) before saying stale, so a short grace only rides out a flag that clears at once.',
      ...positiveMs(0, 3_600_000),
      default: 1000,
      env: 'STALE_GRACE',
    },
    startTimeout: {
      doc: 'Milliseconds a started driver has to produce its first fresh data before it is restarted.',
      ...positiveMs(1000, 3_600_000),
      default: 45_000,
      env: 'START_TIMEOUT',
    },
    verifyTimeout: {
      doc: 'Milliseconds a restarted driver has to produce fresh data before the recovery counts as failed.',
      ...positiveMs(1000, 3_600_000),
      default: 20_000,
      env: 'VERIFY_TIMEOUT',
    },
    stopTimeout: {
      doc: 'Milliseconds between SIGTERM and SIGKILL when stopping a NUT process.',
      ...positiveMs(50, 120_000),
      default: 2000,
      env: 'STOP_TIMEOUT',
    },
    backoffInitial: {
      doc: 'Milliseconds to wait after the first failed recovery; doubles after each further failure.',
      ...positiveMs(10, 3_600_000),
      default: 2000,
      env: 'BACKOFF_INITIAL',
    },
    backoffMax: {
      doc: 'Cap in milliseconds of the wait between failed recoveries.',
      ...positiveMs(10, 86_400_000),
      default: 60_000,
      env: 'BACKOFF_MAX',
    },
    breakerRestarts: {
      doc: 'Circuit breaker: this many driver restarts within the window put the UPS in state failed.',
      ...count(1, 1000),
      default: 5,
      env: 'BREAKER_RESTARTS',
    },
    breakerWindow: {
      doc: 'Circuit breaker window in milliseconds.',
      ...positiveMs(1000, 86_400_000),
      default: 300_000,
      env: 'BREAKER_WINDOW',
    },
    failedRetry: {
      doc: 'Milliseconds between the slow retries of a UPS in state failed.',
      ...positiveMs(1000, 86_400_000),
      default: 300_000,
      env: 'FAILED_RETRY',
    },
    requestTimeout: {
      doc: 'Milliseconds before a request to upsd times out.',
      ...positiveMs(100, 120_000),
      default: 5000,
      env: 'NUT_REQUEST_TIMEOUT',
    },
    upsdFailureThreshold: {
      doc: 'Consecutive failed polls (refused, timed out) while upsd runs before upsd is restarted.',
      ...count(1, 100),
      default: 3,
      env: 'UPSD_FAILURE_THRESHOLD',
    },
  },
};
