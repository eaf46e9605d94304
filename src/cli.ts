#!/usr/bin/env node
import { ConfigError, type LoadedConfig, loadConfig } from './config/load.js';
import { Controller } from './controller.js';
import { createLogger } from './logger.js';
import { writeDefaultNutConfig } from './nut/initConfig.js';
import { resolveNutSetup } from './nut/nutSetup.js';
import { AlreadyRunningError } from './supervisor/staleFiles.js';
import { agentVersion } from './version.js';

const USAGE = `Usage: nut-mqtt [command] [--config FILE]

Commands:
  run            supervise upsd and the UPS drivers from NUT's ups.conf (default)
  check-config   validate the configuration and NUT's files, print the effective settings (secrets masked)
  init-config    write a default NUT configuration (ups.conf, upsd.conf, upsd.users, nut.conf) into NUT_CONFPATH
                 from the INIT_* settings; files that exist are never overwritten
  health         ask the running agent's /healthz (HTTP_PORT); exit 0 when healthy, 1 otherwise

Options:
  --config FILE  JSON or YAML settings file (also NUT_MQTT_CONFIG); the environment overrides it
  --help         this text
  --version      the agent's version

Exit codes: 0 ok, 1 runtime failure, 2 configuration error.`;

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_CONFIG = 2;

interface Args {
  command: 'run' | 'check-config' | 'init-config' | 'health' | 'help' | 'version';
  configFile?: string;
}

const COMMANDS = new Set(['run', 'check-config', 'init-config', 'health']);

function parseArgs(argv: string[]): Args {
  const args: Args = { command: 'run' };
  let commandSeen = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') args.command = 'help';
    else if (arg === '--version' || arg === '-v') args.command = 'version';
    else if (arg === '--config' || arg.startsWith('--config=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (!value) throw new ConfigError(['--config needs a file name']);
      args.configFile = value;
    } else if (!arg.startsWith('-') && !commandSeen && COMMANDS.has(arg)) {
      args.command = arg as Args['command'];
      commandSeen = true;
    } else throw new ConfigError([`unknown argument "${arg.slice(0, 80)}" (see nut-mqtt --help)`]);
  }
  return args;
}

async function run(configFile: string | undefined): Promise<number> {
  const loaded = loadConfig(configFile ? { configFile } : {});
  const logger = createLogger(loaded.config.log.level);
  for (const notice of loaded.notices) logger[notice.level](notice.message);
  if (loaded.config.init.onStart)
    reportInit(writeDefaultNutConfig(loaded.config), (line) => logger.info(line));
  const setup = resolveNutSetup(loaded.config);
  logger.info(
    {
      version: agentVersion(),
      configFile: loaded.file,
      confPath: setup.confPath,
      statePath: setup.statePath,
      upsd: setup.address,
    },
    `nut-mqtt ${agentVersion()} starting`,
  );
  const controller = new Controller({ config: loaded.config, setup, logger });

  const done = new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, `received ${signal} again; still stopping the NUT processes`);
        return;
      }
      stopping = true;
      logger.info({ signal }, `received ${signal}`);
      controller.stop().then(
        () => resolve(EXIT_OK),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          resolve(EXIT_FAILURE);
        },
      );
    };
    // `on`, not `once`: execa's exit hook (signal-exit) re-raises a signal that has no other listener left,
    // which would kill the agent before it has stopped its children.
    process.on('SIGTERM', shutdown);
    process.on('SIGINT', shutdown);
  });

  try {
    await controller.start();
  } catch (error) {
    logger.fatal({ err: error }, (error as Error).message);
    await controller.stop();
    return EXIT_FAILURE;
  }
  return done;
}

/** Old setting names in use, for the commands that print rather than log. */
function printNotices(notices: LoadedConfig['notices']): void {
  for (const notice of notices) process.stderr.write(`nut-mqtt: ${notice.level}: ${notice.message}\n`);
}

function checkConfig(configFile: string | undefined): number {
  const loaded = loadConfig(configFile ? { configFile } : {});
  printNotices(loaded.notices);
  const setup = resolveNutSetup(loaded.config);
  process.stdout.write(`configuration OK${loaded.file ? ` (file ${loaded.file})` : ''}\n`);
  process.stdout.write(`${loaded.masked()}\n`);
  process.stdout.write(
    `NUT: upsd ${setup.upsdPath} at ${setup.address.host}:${setup.address.port}, drivers in ${setup.driverPath}, state in ${setup.statePath}\n`,
  );
  for (const ups of setup.upses)
    process.stdout.write(
      `  UPS ${ups.name}: ${ups.driver} on ${ups.port}${ups.desc ? ` (${ups.desc})` : ''}\n`,
    );
  return EXIT_OK;
}

function reportInit(result: ReturnType<typeof writeDefaultNutConfig>, say: (line: string) => void): void {
  for (const file of result.written) say(`init-config: wrote ${file}`);
  for (const file of result.kept) say(`init-config: kept ${file} (exists)`);
  if (result.usbScan) say(`init-config: ${result.usbScan}`);
  if (result.generatedPassword) {
    say(
      `init-config: no NUT_PASSWORD given; generated a random password for NUT user "${result.username}" (see upsd.users)`,
    );
  }
}

function initConfig(configFile: string | undefined): number {
  const { config, notices } = loadConfig(configFile ? { configFile } : {});
  printNotices(notices);
  reportInit(writeDefaultNutConfig(config), (line) => process.stdout.write(`${line}\n`));
  return EXIT_OK;
}

/** Within the image's HEALTHCHECK --timeout (5 s); /healthz answers from memory, so no answer in 3 s means stuck. */
const HEALTH_REQUEST_TIMEOUT_MS = 3000;

async function health(configFile: string | undefined): Promise<number> {
  const { config } = loadConfig(configFile ? { configFile } : {});
  if (config.http.port === 0) {
    process.stderr.write('nut-mqtt: the health listener is off; set HTTP_PORT\n');
    return EXIT_FAILURE;
  }
  const host =
    config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host === '::' ? '::1' : config.http.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${config.http.port}/healthz`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(HEALTH_REQUEST_TIMEOUT_MS) });
    process.stdout.write(await response.text());
    return response.ok ? EXIT_OK : EXIT_FAILURE;
  } catch (error) {
    process.stderr.write(`nut-mqtt: ${url}: ${(error as Error).message}\n`);
    return EXIT_FAILURE;
  }
}

export async function main(argv: string[]): Promise<number> {
  try {
    const args = parseArgs(argv);
    switch (args.command) {
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return EXIT_OK;
      case 'version':
        process.stdout.write(`${agentVersion()}\n`);
        return EXIT_OK;
      case 'check-config':
        return checkConfig(args.configFile);
      case 'init-config':
        return initConfig(args.configFile);
      case 'health':
        return await health(args.configFile);
      case 'run':
        return await run(args.configFile);
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`nut-mqtt: ${error.message}\n`);
      return EXIT_CONFIG;
    }
    if (error instanceof AlreadyRunningError) {
      process.stderr.write(`nut-mqtt: ${error.message}\n`);
      return EXIT_FAILURE;
    }
    throw error;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`nut-mqtt: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(EXIT_FAILURE);
  },
);
