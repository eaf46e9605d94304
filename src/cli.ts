#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig } from './config/load.js';
import { Controller } from './controller.js';
import { createLogger } from './logger.js';
import { resolveNutSetup } from './nut/nutSetup.js';
import { AlreadyRunningError } from './supervisor/staleFiles.js';

const USAGE = `Usage: nut-mqtt [command] [--config FILE]

Commands:
  run            supervise upsd and the UPS drivers from NUT's ups.conf (default)
  check-config   validate the configuration and NUT's files, print the effective settings (secrets masked)

Options:
  --config FILE  JSON or YAML settings file (also NUT_MQTT_CONFIG); the environment overrides it
  --help         this text
  --version      the agent's version

Exit codes: 0 ok, 1 runtime failure, 2 configuration error.`;

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_CONFIG = 2;

export function agentVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

interface Args {
  command: 'run' | 'check-config' | 'help' | 'version';
  configFile?: string;
}

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
    } else if (!arg.startsWith('-') && !commandSeen && (arg === 'run' || arg === 'check-config')) {
      args.command = arg;
      commandSeen = true;
    } else throw new ConfigError([`unknown argument "${arg}" (see nut-mqtt --help)`]);
  }
  return args;
}

async function run(configFile: string | undefined): Promise<number> {
  const loaded = loadConfig(configFile ? { configFile } : {});
  const logger = createLogger(loaded.config.log.level);
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

function checkConfig(configFile: string | undefined): number {
  const loaded = loadConfig(configFile ? { configFile } : {});
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
