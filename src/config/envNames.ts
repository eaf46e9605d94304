/**
 * The one naming rule for environment variables, and the old names that still work.
 *
 * Rule: the section's prefix, then the key in SCREAMING_SNAKE_CASE: `mqtt.baseTopic` → `MQTT_BASE_TOPIC`,
 * `init.upsVendorId` → `INIT_UPS_VENDOR_ID`, `homeassistant.statusTopic` → `HA_STATUS_TOPIC`. The supervisor's
 * settings, the agent's core, carry no prefix (`supervisor.pollInterval` → `POLL_INTERVAL`). The one exception:
 * the three folders NUT itself reads from its environment keep NUT's spelling (`NUT_CONFPATH`, `NUT_STATEPATH`,
 * `NUT_ALTPIDPATH`), so one variable serves both.
 *
 * Old names (before the rule) keep working: an old name alone is read as the new one (and a notice says so); set
 * under both names, the new one wins and a warning names both.
 */

const SECTION_PREFIXES: Readonly<Record<string, string>> = {
  nut: 'NUT_',
  mqtt: 'MQTT_',
  homeassistant: 'HA_',
  http: 'HTTP_',
  init: 'INIT_',
  log: 'LOG_',
  supervisor: '',
  battery: 'BATTERY_',
};

/** NUT's own variables: upsd and the drivers read these from the environment the agent gives them. */
const NUT_SPELLING: Readonly<Record<string, string>> = {
  'nut.confPath': 'NUT_CONFPATH',
  'nut.statePath': 'NUT_STATEPATH',
  'nut.altPidPath': 'NUT_ALTPIDPATH',
};

/** The environment variable of a config key (`section.key`), by the rule above. */
export function envNameOf(key: string): string {
  const own = NUT_SPELLING[key];
  if (own) return own;
  const [section = '', name = ''] = key.split('.');
  const prefix = SECTION_PREFIXES[section];
  if (prefix === undefined) throw new Error(`no environment prefix for section "${section}"`);
  return prefix + name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

export interface Alias {
  /** The config key the old name sets. */
  key: string;
  /** The old environment variable. */
  env?: string;
  /** The old key in a settings file. */
  fileKey?: string;
  /** The old name's value as the new key reads it (the old one had another unit). */
  convert?: (value: unknown) => unknown;
  /** Said in messages when the unit differs, e.g. "in seconds". */
  unit?: string;
}

/** STATE_REFRESH was seconds; every other duration is milliseconds. Anything but a whole number passes as it is. */
function secondsToMs(value: unknown): unknown {
  if (typeof value === 'number') return Number.isInteger(value) ? value * 1000 : value;
  return typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? String(Number(value) * 1000) : value;
}

/** Every old name that still works (README: Configuration). */
export const ALIASES: readonly Alias[] = [
  {
    key: 'mqtt.stateRefreshInterval',
    env: 'STATE_REFRESH',
    fileKey: 'mqtt.stateRefresh',
    convert: secondsToMs,
    unit: 'in seconds',
  },
  { key: 'mqtt.commandCooldown', env: 'COMMAND_COOLDOWN' },
  { key: 'mqtt.instcmdAllow', env: 'INSTCMD_ALLOW' },
  { key: 'init.onStart', env: 'INIT_CONFIG' },
  { key: 'init.upsName', env: 'UPS_NAME' },
  { key: 'init.upsDriver', env: 'UPS_DRIVER' },
  { key: 'init.upsPort', env: 'UPS_PORT' },
  { key: 'init.upsVendorId', env: 'UPS_VENDORID' },
  { key: 'init.upsProductId', env: 'UPS_PRODUCTID' },
  { key: 'init.upsDesc', env: 'UPS_DESC' },
  { key: 'init.listenHost', env: 'UPSD_LISTEN' },
  { key: 'init.listenPort', env: 'UPSD_PORT' },
  { key: 'supervisor.requestTimeout', env: 'NUT_REQUEST_TIMEOUT' },
];

export interface Notice {
  level: 'info' | 'warn';
  message: string;
}

export interface AliasedEnv {
  /** The environment with every old name moved to its new name. */
  env: Record<string, string | undefined>;
  /** Config key → the name the user actually set, for error messages. */
  setAs: Map<string, string>;
  notices: Notice[];
}

/** Reads the old environment names into the new ones (see the rule above). Pure. */
export function applyEnvAliases(env: Readonly<Record<string, string | undefined>>): AliasedEnv {
  const result: AliasedEnv = { env: { ...env }, setAs: new Map(), notices: [] };
  for (const alias of ALIASES) {
    const old = alias.env;
    if (old === undefined || env[old] === undefined) continue;
    const current = envNameOf(alias.key);
    delete result.env[old];
    if (env[current] !== undefined) {
      result.notices.push({
        level: 'warn',
        message: `${old} and ${current} are both set: ${current} wins (${old} is its old name)`,
      });
      continue;
    }
    result.env[current] = String(alias.convert ? alias.convert(env[old]) : env[old]);
    result.setAs.set(alias.key, alias.unit ? `${old}, ${alias.unit}` : old);
    result.notices.push({ level: 'info', message: `${old} is the old name of ${current}; it still works` });
  }
  return result;
}

/** Reads old keys of a settings file into the new ones, in place (same rules as for the environment). */
export function applyFileAliases(data: Record<string, unknown>, notices: Notice[]): void {
  for (const alias of ALIASES) {
    if (!alias.fileKey) continue;
    const [section = '', oldName = ''] = alias.fileKey.split('.');
    const newName = alias.key.split('.')[1] ?? '';
    const fields = data[section];
    if (typeof fields !== 'object' || fields === null || !(oldName in fields)) continue;
    const record = fields as Record<string, unknown>;
    const value = record[oldName];
    delete record[oldName];
    if (newName in record) {
      notices.push({
        level: 'warn',
        message: `${alias.fileKey} and ${alias.key} are both set: ${alias.key} wins (${alias.fileKey} is its old name)`,
      });
      continue;
    }
    record[newName] = alias.convert ? alias.convert(value) : value;
    notices.push({
      level: 'info',
      message: `${alias.fileKey} is the old name of ${alias.key}${alias.unit ? ` (${alias.unit})` : ''}; it still works`,
    });
  }
}
