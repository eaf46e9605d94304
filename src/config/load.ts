import { existsSync, readFileSync } from 'node:fs';
import convict from 'convict';
import YAML from 'yaml';
import { applyEnvAliases, applyFileAliases, type Notice } from './envNames.js';
import { type AgentConfigShape, schema } from './schema.js';

convict.addParser([
  { extension: ['yml', 'yaml'], parse: (text: string) => YAML.parse(text) },
  { extension: ['json', '*'], parse: (text: string) => JSON.parse(text) },
]);

/** A configuration problem: the agent stops before starting anything, exit code 2. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(
      problems.length === 1
        ? `configuration error: ${problems[0]}`
        : `configuration errors:\n- ${problems.join('\n- ')}`,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Config file path; otherwise NUT_MQTT_CONFIG; otherwise none. */
  configFile?: string;
}

export interface LoadedConfig {
  config: AgentConfigShape;
  /** The file that was read, if any. */
  file?: string;
  /** Old setting names that were read (info), or set beside their new names (warn): for the log. */
  notices: Notice[];
  /** The effective configuration as JSON with every secret masked. */
  masked(): string;
}

/** Environment name of each config key, so errors can name what the user actually set. */
function envNames(): Map<string, string> {
  const names = new Map<string, string>();
  const visit = (node: Record<string, unknown>, prefix: string) => {
    for (const [key, value] of Object.entries(node)) {
      const path = prefix ? `${prefix}.${key}` : key;
      const item = value as { env?: string; default?: unknown };
      if (item && typeof item === 'object' && 'default' in item) {
        if (item.env) names.set(path, item.env);
      } else {
        visit(value as Record<string, unknown>, path);
      }
    }
  };
  visit(schema as unknown as Record<string, unknown>, '');
  return names;
}

/**
 * convict reports all problems in one Error, one per line; name each key and its environment variable, or the old
 * name when the value came from that (`setAs`).
 */
function problemsFrom(error: Error, setAs: ReadonlyMap<string, string> = new Map()): string[] {
  const envs = new Map([...envNames(), ...setAs]);
  return error.message
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const m = /^([\w.]+): (.*)$/.exec(line);
      if (m?.[1] && envs.has(m[1])) return `${m[1]} (env ${envs.get(m[1])}): ${m[2]}`;
      const undeclared = /configuration param '([^']+)' not declared in the schema/.exec(line);
      if (undeclared) return `${undeclared[1]}: unknown key`;
      return line;
    });
}

function hideSensitiveValues(message: string): string {
  // convict puts offending values in messages ("value was ..."); never echo them for sensitive keys.
  return message.replace(/: value was .*$/s, '');
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const { env, setAs, notices } = applyEnvAliases(options.env ?? process.env);
  const file = options.configFile ?? (env.NUT_MQTT_CONFIG || undefined);
  const config = convict<AgentConfigShape>(schema, { env: env as Record<string, string>, args: [] });
  if (file) loadFile(config, file, env, notices);
  try {
    config.validate({ allowed: 'strict' });
  } catch (error) {
    throw new ConfigError(problemsFrom(error as Error, setAs).map(hideSensitiveValues));
  }
  const properties = config.getProperties();
  readSecretFiles(properties);
  checkTlsFiles(properties);
  return {
    config: properties,
    file,
    notices,
    masked: () => maskUrlCredentials(JSON.stringify(JSON.parse(config.toString()), null, 2)),
  };
}

/** Merges a JSON or YAML settings file into `config`, the environment still winning. */
function loadFile(
  config: convict.Config<AgentConfigShape>,
  file: string,
  env: Record<string, string | undefined>,
  notices: Notice[],
): void {
  if (!existsSync(file)) throw new ConfigError([`config file ${file}: not found`]);
  let data: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    data = /\.ya?ml$/i.test(file) ? YAML.parse(text) : JSON.parse(text);
  } catch (error) {
    throw new ConfigError([
      `config file ${file}: cannot be read: ${(error as Error).message.split('\n')[0]}`,
    ]);
  }
  if (data !== null && data !== undefined && (typeof data !== 'object' || Array.isArray(data))) {
    throw new ConfigError([`config file ${file}: must hold an object of settings`]);
  }
  applyFileAliases((data ?? {}) as Record<string, unknown>, notices);
  try {
    config.load(data ?? {});
  } catch (error) {
    throw new ConfigError(problemsFrom(error as Error).map(hideSensitiveValues));
  }
  // Values from the file must not override the environment: re-apply env on top (convict's load() merges over it).
  const overlay = convict<AgentConfigShape>(schema, { env: env as Record<string, string>, args: [] });
  for (const [key, name] of envNames()) {
    if (env[name] !== undefined) config.set(key as never, overlay.get(key as never) as never);
  }
}

/** `user:password@` inside any URL is masked too (MQTT_URL may carry credentials). */
export function maskUrlCredentials(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/@"]+@/gi, '$1***@');
}

function readSecret(file: string, key: string, env: string): string {
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw new ConfigError([
      `${key} (env ${env}): ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    ]);
  }
}

/** Docker secrets: a *_FILE setting wins over the plain value. The content never reaches a message. */
function readSecretFiles(config: AgentConfigShape): void {
  if (config.mqtt.passwordFile)
    config.mqtt.password = readSecret(config.mqtt.passwordFile, 'mqtt.passwordFile', 'MQTT_PASSWORD_FILE');
  if (config.nut.passwordFile)
    config.nut.password = readSecret(config.nut.passwordFile, 'nut.passwordFile', 'NUT_PASSWORD_FILE');
}

function checkTlsFiles(config: AgentConfigShape): void {
  const problems: string[] = [];
  const files: Array<[string, string, string]> = [
    [config.mqtt.caFile, 'mqtt.caFile', 'MQTT_CA_FILE'],
    [config.mqtt.certFile, 'mqtt.certFile', 'MQTT_CERT_FILE'],
    [config.mqtt.keyFile, 'mqtt.keyFile', 'MQTT_KEY_FILE'],
  ];
  for (const [file, key, env] of files) {
    if (!file) continue;
    try {
      readFileSync(file);
    } catch (error) {
      problems.push(
        `${key} (env ${env}): ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
  if (Boolean(config.mqtt.certFile) !== Boolean(config.mqtt.keyFile)) {
    problems.push('mqtt.certFile and mqtt.keyFile (env MQTT_CERT_FILE, MQTT_KEY_FILE): set both or neither');
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
