import { isValidCommandName } from '../api/commands.js';
import {
  confValue,
  displayName,
  driverNameFormat,
  topicLevel,
  upsNameFormat,
  usbId,
  userName,
} from '../config/formats.js';
import { upsdPasswordProblem } from '../nut/initConfig.js';

/** One UPS of the add-on's `upses` option: a ups.conf section. */
export interface AddonUps {
  name: string;
  driver: string;
  port: string;
  desc?: string;
  vendorid?: string;
  productid?: string;
  serial?: string;
  /** Further ups.conf lines of the section (`pollinterval = 15`, `pollonly`), as the NUT add-on's `config`. */
  config: string[];
}

export const ADDON_LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

/** /data/options.json, as the add-on's config.yaml declares it (its `schema`), checked again here. */
export interface AddonOptions {
  upses: AddonUps[];
  /** Use the NUT files in the add-on's config folder instead of `upses`. */
  nut_files: boolean;
  instcmd_allow: string[];
  nut_username: string;
  /** Empty: a random one at each start (then only the agent itself can log in to upsd). */
  nut_password: string;
  base_topic: string;
  device_name: string;
  /** 0: unset. */
  power_factor: number;
  log_level: (typeof ADDON_LOG_LEVELS)[number];
}

/** Problems with the options, each naming the option as the add-on's configuration page shows it. */
export class AddonOptionsError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'AddonOptionsError';
  }
}

type Raw = Record<string, unknown>;

/** A ups.conf line of a section: `key` or `key = value` (value quoted or one word). */
const CONF_LINE = /^\s*([A-Za-z0-9_.-]{1,64})\s*(?:=\s*(?:"([^"\\]*)"|([^\s"\\]+)))?\s*$/;
/** Keys the add-on writes itself from the UPS's own fields. */
const OWN_KEYS = new Set(['driver', 'port', 'desc']);

/** One `config` line in the canonical form ups.conf gets (`  key = "value"`), or a problem. */
export function upsConfLine(line: string): { line: string } | { problem: string } {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must be refused
  const m = /[\0-\x1f]/.test(line) ? null : CONF_LINE.exec(line);
  if (!m)
    return {
      problem: `${JSON.stringify(line.slice(0, 60))} is not a ups.conf line like "pollinterval = 15"`,
    };
  const key = m[1] as string;
  if (OWN_KEYS.has(key.toLowerCase())) return { problem: `"${key}" has its own field` };
  const value = m[2] ?? m[3];
  return { line: value === undefined ? `  ${key}` : `  ${key} = "${value}"` };
}

function check(problems: string[], name: string, value: unknown, format: (v: unknown) => void): void {
  try {
    format(value);
  } catch (error) {
    problems.push(`${name}: ${(error as Error).message}`);
  }
}

const isString = (v: unknown): v is string => typeof v === 'string';

function optionalString(problems: string[], raw: Raw, key: string, where: string): string | undefined {
  const value = raw[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (!isString(value)) {
    problems.push(`${where}${key}: must be text`);
    return undefined;
  }
  return value;
}

function parseUps(problems: string[], raw: unknown, i: number): AddonUps | undefined {
  const at = `upses[${i}].`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push(`upses[${i}]: must be an object with name, driver and port`);
    return undefined;
  }
  const u = raw as Raw;
  check(problems, `${at}name`, u.name, upsNameFormat);
  check(problems, `${at}driver`, u.driver, driverNameFormat);
  check(problems, `${at}port`, u.port, confValue);
  const ups: AddonUps = {
    name: u.name as string,
    driver: u.driver as string,
    port: u.port as string,
    config: [],
  };
  for (const key of ['desc', 'serial'] as const) {
    const value = optionalString(problems, u, key, at);
    if (value === undefined) continue;
    check(problems, `${at}${key}`, value, confValue);
    ups[key] = value;
  }
  for (const key of ['vendorid', 'productid'] as const) {
    const value = optionalString(problems, u, key, at);
    if (value === undefined) continue;
    check(problems, `${at}${key}`, value, usbId);
    ups[key] = value.toLowerCase();
  }
  const config = u.config ?? [];
  if (!Array.isArray(config)) problems.push(`${at}config: must be a list of ups.conf lines`);
  else
    config.forEach((line, j) => {
      const r = isString(line) ? upsConfLine(line) : { problem: 'must be text' };
      if ('problem' in r) problems.push(`${at}config[${j}]: ${r.problem}`);
      else ups.config.push(r.line);
    });
  return ups;
}

/**
 * Reads and checks the add-on's options (the Supervisor checks them against config.yaml's schema first; this is
 * the agent's own check, with the agent's rules, so nothing unchecked reaches ups.conf or upsd.users). Pure.
 */
export function parseAddonOptions(raw: unknown): AddonOptions {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new AddonOptionsError(['the options must be an object']);
  const o = raw as Raw;
  const problems: string[] = [];
  const upsesRaw = o.upses ?? [];
  const upses: AddonUps[] = [];
  if (!Array.isArray(upsesRaw)) problems.push('upses: must be a list');
  else
    upsesRaw.forEach((u, i) => {
      const ups = parseUps(problems, u, i);
      if (ups) upses.push(ups);
    });
  // upsd compares UPS names case-insensitively.
  const names = upses.map((u) => u.name.toLowerCase());
  for (const dup of new Set(names.filter((n, i) => names.indexOf(n) !== i)))
    problems.push(`upses: the name "${dup}" is used twice`);

  const nutFiles = o.nut_files ?? false;
  if (typeof nutFiles !== 'boolean') problems.push('nut_files: must be true or false');
  if (nutFiles === false && Array.isArray(upsesRaw) && upsesRaw.length === 0)
    problems.push(
      'upses: add at least one UPS (name, driver, port), or turn on nut_files to use your own ups.conf',
    );

  const instcmds = o.instcmd_allow ?? [];
  if (!Array.isArray(instcmds)) problems.push('instcmd_allow: must be a list of instant command names');
  else
    for (const cmd of instcmds)
      if (!isString(cmd) || !isValidCommandName(cmd))
        problems.push(
          `instcmd_allow: ${JSON.stringify(String(cmd).slice(0, 40))} is not an instant command name`,
        );

  const username = o.nut_username ?? 'monuser';
  check(problems, 'nut_username', username, userName);
  if (username === '') problems.push('nut_username: must not be empty');
  const password = o.nut_password ?? '';
  if (!isString(password)) problems.push('nut_password: must be text');
  else {
    const problem = upsdPasswordProblem(password);
    if (problem) problems.push(`nut_password: ${problem}`);
  }
  const baseTopic = o.base_topic ?? 'nut';
  check(problems, 'base_topic', baseTopic, topicLevel);
  const deviceName = o.device_name ?? '';
  check(problems, 'device_name', deviceName, displayName);
  const powerFactor = o.power_factor ?? 0;
  if (typeof powerFactor !== 'number' || !(powerFactor >= 0 && powerFactor <= 1))
    problems.push('power_factor: must be a number from 0 to 1 (0: unset)');
  const logLevel = o.log_level ?? 'info';
  if (!ADDON_LOG_LEVELS.includes(logLevel as AddonOptions['log_level']))
    problems.push(`log_level: must be one of ${ADDON_LOG_LEVELS.join(', ')}`);

  const known = new Set([
    'upses',
    'nut_files',
    'instcmd_allow',
    'nut_username',
    'nut_password',
    'base_topic',
    'device_name',
    'power_factor',
    'log_level',
  ]);
  for (const key of Object.keys(o)) if (!known.has(key)) problems.push(`${key}: unknown option`);
  if (problems.length > 0) throw new AddonOptionsError(problems);
  return {
    upses,
    nut_files: nutFiles as boolean,
    instcmd_allow: instcmds as string[],
    nut_username: username as string,
    nut_password: password as string,
    base_topic: baseTopic as string,
    device_name: deviceName as string,
    power_factor: powerFactor as number,
    log_level: logLevel as AddonOptions['log_level'],
  };
}
