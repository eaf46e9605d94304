import { isIP } from 'node:net';
import convict, { type SchemaObj } from 'convict';
import { isValidCommandName } from '../api/commands.js';

/**
 * The value formats of the configuration schema. Importing this module registers the named ones with convict
 * (`ms`, `count`, `switch`, `command-list`); the others are validator functions for `format`.
 */

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

export const positiveMs = (min: number, max: number) => ({ format: 'ms', min, max });
export const count = (min: number, max: number) => ({ format: 'count', min, max });

export const pathOrEmpty = (value: unknown) => {
  if (typeof value !== 'string') throw new Error('must be a path (string)');
  if (value !== '' && !value.startsWith('/')) throw new Error('must be an absolute path');
  if (/[\0\n\r]/.test(value)) throw new Error('must not contain control characters');
};

export const absolutePath = (value: unknown) => {
  pathOrEmpty(value);
  if (value === '') throw new Error('must be an absolute path');
};

/** A decimal from 0 to 1 where 0 (or empty) means unset/off: a power factor, a share of a CPU core. */
function addFractionFormat(name: string, meaning: string): void {
  convict.addFormat({
    name,
    validate: (value: unknown) => {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1)
        throw new Error(`must be ${meaning}`);
    },
    coerce: (raw: string) =>
      raw.trim() === '' ? 0 : /^\s*(?:0|1)?(?:\.\d+)?\s*$/.test(raw) ? Number(raw) : raw,
  });
}
addFractionFormat('power-factor', 'a power factor from 0 to 1 (e.g. 0.6; 0 = unset)');
addFractionFormat('cpu-share', 'a share of one CPU core from 0 to 1 (e.g. 0.4; 0 = off)');

/** A display name: any text up to 100 characters, no control characters; empty = the default. */
export const displayName = (value: unknown) => {
  if (typeof value !== 'string' || value.length > 100 || /\p{Cc}/u.test(value))
    throw new Error('must be a name of at most 100 characters without control characters');
};

export const userName = (value: unknown) => {
  if (typeof value !== 'string' || (value !== '' && !/^[a-z_][a-z0-9_-]{0,31}$/i.test(value))) {
    throw new Error('must be a user name (letters, digits, _ and -)');
  }
};

export const brokerUrl = (value: unknown) => {
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
export const topicLevel = (value: unknown) => {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]+$/.test(value)) {
    throw new Error('must be one topic level of letters, digits, _ and -');
  }
};

export const topicName = (value: unknown) => {
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
    if (typeof name !== 'string' || !isValidCommandName(name)) {
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

/** A local time of day, `HH:MM` (00:00–23:59). */
convict.addFormat({
  name: 'time-of-day',
  validate: (value: unknown) => {
    if (typeof value !== 'string' || !/^(?:[01][0-9]|2[0-3]):[0-5][0-9]$/.test(value))
      throw new Error('must be a time of day as HH:MM, e.g. 03:00');
  },
  coerce: (raw: string) => raw.trim(),
});

export const upsNameFormat = (value: unknown) => {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(value)) {
    throw new Error('must be a UPS name of letters, digits, _, . and -');
  }
};

export const driverNameFormat = (value: unknown) => {
  if (typeof value !== 'string' || !/^[a-z0-9_-]{1,64}$/.test(value))
    throw new Error('must be a NUT driver name like usbhid-ups');
};

/** A value that goes into a NUT config file: one line, no quotes that could break out of it. */
export const confValue = (value: unknown) => {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must be refused
  if (typeof value !== 'string' || /[\0-\x1f"\\]/.test(value) || value.length > 200) {
    throw new Error('must be one line without quotes or backslashes');
  }
};

export const ipAddress = (value: unknown) => {
  if (typeof value !== 'string' || isIP(value) === 0) throw new Error('must be an IPv4 or IPv6 address');
};

export const usbId = (value: unknown) => {
  if (typeof value !== 'string' || (value !== '' && !/^[0-9a-fA-F]{4}$/.test(value)))
    throw new Error('must be 4 hex digits');
};
