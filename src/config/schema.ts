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
      doc: 'Folder of NUT driver binaries. Empty: found automatically (/lib/nut on Debian, /usr/lib/nut on Alpine).',
      format: pathOrEmpty,
      default: '',
      env: 'NUT_DRIVER_PATH',
    },
    upsdPath: {
      doc: 'The upsd binary. Empty: found automatically (/lib/nut/upsd on Debian, /usr/sbin/upsd on Alpine).',
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
      doc: 'Milliseconds a driver may report stale data before it is restarted (drivers sometimes recover).',
      ...positiveMs(0, 3_600_000),
      default: 5000,
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
