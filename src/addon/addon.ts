import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentConfigShape } from '../config/schema.js';
import { generatePassword, type InitFile } from '../nut/initConfig.js';
import { addonNutFiles, readUserNutFiles, type UserNutFiles } from './nutFiles.js';
import { type AddonOptions, AddonOptionsError, parseAddonOptions } from './options.js';
import { fetchMqttService, mqttServiceUrl, protocolVersion } from './supervisorApi.js';

/** Where the Supervisor puts things in an add-on's container (Home Assistant's add-on documentation). */
export interface AddonPaths {
  /** The add-on's private, persistent folder: options.json, and here NUT's files and the energy store. */
  data: string;
  /** The add-on's public config folder (`map: addon_config`), where a user may bring NUT files. */
  config: string;
}

export const ADDON_PATHS: AddonPaths = { data: '/data', config: '/config' };
export const DEFAULT_SUPERVISOR_URL = 'http://supervisor';

/** The Supervisor gives every add-on a SUPERVISOR_TOKEN: with one, the agent runs as an add-on. */
export function isAddon(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.SUPERVISOR_TOKEN);
}

export interface AddonSettings {
  /** The process environment with the add-on's settings over it: what the configuration is loaded from. */
  env: NodeJS.ProcessEnv;
  options: AddonOptions;
  userFiles?: UserNutFiles;
  /** For the log: where the settings and the broker came from (no secrets). */
  summary: string;
}

function readOptions(file: string): AddonOptions {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new AddonOptionsError([
      `${file} cannot be read (${code ?? 'error'}); the Supervisor writes it for every add-on: is /data mapped?`,
    ]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new AddonOptionsError([`${file} is not JSON`]);
  }
  return parseAddonOptions(raw);
}

/**
 * The add-on's settings: its options (/data/options.json), the broker and its credentials from the Supervisor's
 * services API, NUT's configuration and the energy store under /data. Returns the environment to load the
 * configuration from; writes nothing.
 */
export async function addonSettings(
  env: NodeJS.ProcessEnv,
  paths: AddonPaths = ADDON_PATHS,
): Promise<AddonSettings> {
  const optionsFile = join(paths.data, 'options.json');
  const options = readOptions(optionsFile);
  const userFiles = options.nut_files ? readUserNutFiles(paths.config) : undefined;
  const supervisorUrl = env.SUPERVISOR_URL || DEFAULT_SUPERVISOR_URL;
  const service = await fetchMqttService({ url: supervisorUrl, token: env.SUPERVISOR_TOKEN ?? '' });
  const brokerUrl = mqttServiceUrl(service);
  const overlay: Record<string, string> = {
    NUT_CONFPATH: join(paths.data, 'nut'),
    DATA_PATH: paths.data,
    INIT_ON_START: 'false',
    MQTT_URL: brokerUrl,
    MQTT_USERNAME: service.username,
    MQTT_PASSWORD: service.password,
    MQTT_PASSWORD_FILE: '',
    MQTT_PROTOCOL_VERSION: String(protocolVersion(service.protocol)),
    MQTT_BASE_TOPIC: options.base_topic,
    MQTT_INSTCMD_ALLOW: options.instcmd_allow.join(','),
    NUT_USERNAME: options.nut_username,
    NUT_PASSWORD: options.nut_password || generatePassword(),
    NUT_PASSWORD_FILE: '',
    HA_DISCOVERY: 'true',
    HA_DEVICE_NAME: options.device_name,
    HA_POWER_FACTOR: String(options.power_factor),
    LOG_LEVEL: options.log_level,
  };
  const upses = options.nut_files
    ? `your NUT files from ${paths.config}`
    : `UPS ${options.upses.map((u) => `${u.name} (${u.driver})`).join(', ')}`;
  const user = service.username ? ` as ${service.username}` : '';
  return {
    env: { ...env, ...overlay },
    options,
    ...(userFiles ? { userFiles } : {}),
    summary: `Home Assistant add-on: options from ${optionsFile} (${upses}); MQTT broker ${brokerUrl}${user} from the Supervisor (${supervisorUrl}); NUT configuration in ${overlay.NUT_CONFPATH}`,
  };
}

/** NUT's files for the add-on, from its settings and the loaded configuration (listen address, monitor user). */
export function addonFiles(settings: AddonSettings, config: AgentConfigShape): InitFile[] {
  return addonNutFiles(settings.options, {
    listenHost: config.init.listenHost,
    listenPort: config.init.listenPort,
    password: config.nut.password,
    ...(settings.userFiles ? { userFiles: settings.userFiles } : {}),
  });
}
