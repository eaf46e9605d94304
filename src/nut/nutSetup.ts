import { accessSync, constants, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../config/load.js';
import type { AgentConfigShape } from '../config/schema.js';
import {
  clientAddress,
  NutConfigError,
  parseUpsConf,
  parseUpsdConf,
  type UpsConfEntry,
  type UpsdConf,
} from './confParser.js';

/** Where NUT lives on this machine and what it is configured to run: read from NUT's own files, never duplicated. */
export interface NutSetup {
  confPath: string;
  statePath: string;
  altPidPath: string;
  driverPath: string;
  upsdPath: string;
  /** `-u` user for NUT processes, when configured. */
  user?: string;
  upses: UpsConfEntry[];
  upsd: UpsdConf;
  /** Where the agent reaches upsd (from upsd.conf's first LISTEN). */
  address: { host: string; port: number };
  /** Environment for every NUT child: the three NUT_* paths and PATH, and nothing else (no agent secrets). */
  childEnv: Record<string, string>;
}

export type Platform = 'debian' | 'alpine';

function detectPlatform(): Platform {
  return existsSync('/etc/alpine-release') ? 'alpine' : 'debian';
}

/**
 * Where distributions put NUT's drivers: Debian 12/13 (2.8.0, 2.8.1) /lib/nut, Debian sid's 2.8.5 /usr/libexec/nut,
 * Alpine /usr/lib/nut.
 */
const DRIVER_DIRS: Record<Platform, string[]> = {
  debian: ['/lib/nut', '/usr/lib/nut', '/usr/libexec/nut'],
  alpine: ['/usr/lib/nut', '/lib/nut', '/usr/libexec/nut'],
};

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Debian 12/13's /usr/sbin/upsd is a shell wrapper that exits 0 without starting anything unless nut.conf sets
 * MODE (the real one is /lib/nut/upsd there); Debian sid's /usr/sbin/upsd is the real binary.
 */
function isShellWrapper(file: string): boolean {
  try {
    return readFileSync(file).subarray(0, 2).toString() === '#!';
  } catch {
    return false;
  }
}

/** The first existing candidate folder that holds every configured driver, else the first existing one. */
function findDriverDir(existing: string[], upses: readonly Pick<UpsConfEntry, 'driver'>[]): string {
  const holdsAll = (dir: string) => upses.every((ups) => isExecutable(join(dir, ups.driver)));
  return existing.find(holdsAll) ?? existing[0] ?? '';
}

function findUpsd(driverPath: string, platform: Platform): string | undefined {
  const candidates = [
    join(driverPath, 'upsd'),
    ...DRIVER_DIRS[platform].map((d) => join(d, 'upsd')),
    '/usr/sbin/upsd',
    '/sbin/upsd',
  ];
  return candidates.find((file) => isExecutable(file) && !isShellWrapper(file));
}

export function driverSocketPath(setup: Pick<NutSetup, 'statePath'>, ups: UpsConfEntry): string {
  return join(setup.statePath, `${ups.driver}-${ups.name}`);
}

export function driverPidFile(setup: Pick<NutSetup, 'altPidPath'>, ups: UpsConfEntry): string {
  return join(setup.altPidPath, `${ups.driver}-${ups.name}.pid`);
}

export function driverBinary(setup: Pick<NutSetup, 'driverPath'>, ups: UpsConfEntry): string {
  return join(setup.driverPath, ups.driver);
}

function readNutFile(file: string, required: boolean): string | undefined {
  if (!existsSync(file)) {
    if (required) throw new ConfigError([`${file}: not found (NUT_CONFPATH must hold NUT's ups.conf)`]);
    return undefined;
  }
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError([
      `${file}: cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    ]);
  }
}

function parseOrExplain<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof NutConfigError) throw new ConfigError([error.message]);
    throw error;
  }
}

/**
 * Resolves paths and reads ups.conf and upsd.conf. Every problem is a ConfigError (exit code 2) that names the
 * path or the key: a missing NUT_CONFPATH, a missing ups.conf, a driver binary that does not exist.
 */
export function resolveNutSetup(config: AgentConfigShape, platform: Platform = detectPlatform()): NutSetup {
  const { nut } = config;
  const confPath = nut.confPath;
  if (!existsSync(confPath) || !statSync(confPath).isDirectory()) {
    throw new ConfigError([`nut.confPath (env NUT_CONFPATH): folder ${confPath} does not exist`]);
  }
  const statePath = nut.statePath || (platform === 'alpine' ? '/var/run/nut' : '/run/nut');
  const altPidPath = nut.altPidPath || statePath;

  const driverDirs = driverDirCandidates(nut.driverPath, platform);
  const upsConfFile = join(confPath, 'ups.conf');
  const upsConf = parseOrExplain(() => parseUpsConf(readNutFile(upsConfFile, true) ?? '', upsConfFile));
  const driverPath = nut.driverPath || findDriverDir(driverDirs, upsConf.upses);
  const upsdPath = upsdBinary(nut.upsdPath, driverPath, platform);

  const upsdConfFile = join(confPath, 'upsd.conf');
  const upsdText = readNutFile(upsdConfFile, false);
  const upsd =
    upsdText === undefined
      ? parseUpsdConf('', upsdConfFile)
      : parseOrExplain(() => parseUpsdConf(upsdText, upsdConfFile));

  checkDriverBinaries(upsConf.upses, driverPath, upsConfFile);
  ensureWritableFolders([statePath, altPidPath]);

  const childEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    NUT_CONFPATH: confPath,
    NUT_STATEPATH: statePath,
    NUT_ALTPIDPATH: altPidPath,
  };
  if (process.env.TZ) childEnv.TZ = process.env.TZ;

  return {
    confPath,
    statePath,
    altPidPath,
    driverPath,
    upsdPath,
    ...(nut.user ? { user: nut.user } : {}),
    upses: upsConf.upses,
    upsd,
    address: clientAddress(upsd),
    childEnv,
  };
}

/**
 * Where this machine's NUT lives, found as the agent finds it: for tools and tests that run NUT themselves.
 * `driverPath` given: only upsd is looked for. Undefined parts were not found.
 */
export function locateNut(opts: { driverPath?: string; drivers: readonly string[] }): {
  driverPath?: string;
  upsdPath?: string;
} {
  const platform = detectPlatform();
  const existing = DRIVER_DIRS[platform].filter((dir) => existsSync(dir));
  const driverPath =
    opts.driverPath ||
    findDriverDir(
      existing,
      opts.drivers.map((driver) => ({ driver })),
    ) ||
    undefined;
  return { driverPath, upsdPath: driverPath ? findUpsd(driverPath, platform) : undefined };
}

/** The folders to look for drivers in: none when NUT_DRIVER_PATH is set (it must exist), else the platform's. */
function driverDirCandidates(driverPath: string, platform: Platform): string[] {
  if (driverPath) {
    if (!existsSync(driverPath))
      throw new ConfigError([`nut.driverPath (env NUT_DRIVER_PATH): folder ${driverPath} does not exist`]);
    return [];
  }
  const dirs = DRIVER_DIRS[platform].filter((dir) => existsSync(dir));
  if (dirs.length === 0) {
    throw new ConfigError([
      `nut.driverPath (env NUT_DRIVER_PATH): no NUT driver folder found (looked in ${DRIVER_DIRS[platform].join(', ')}); install NUT or set NUT_DRIVER_PATH`,
    ]);
  }
  return dirs;
}

function upsdBinary(configured: string, driverPath: string, platform: Platform): string {
  const upsdPath = configured || findUpsd(driverPath, platform);
  if (!upsdPath)
    throw new ConfigError([
      'nut.upsdPath (env NUT_UPSD_PATH): no upsd binary found; install NUT or set NUT_UPSD_PATH',
    ]);
  if (!isExecutable(upsdPath))
    throw new ConfigError([`nut.upsdPath (env NUT_UPSD_PATH): ${upsdPath} is not an executable file`]);
  return upsdPath;
}

/** Every UPS's driver must be a plain name of an executable in the driver folder; all problems at once. */
function checkDriverBinaries(upses: readonly UpsConfEntry[], driverPath: string, upsConfFile: string): void {
  const problems: string[] = [];
  for (const ups of upses) {
    const binary = join(driverPath, ups.driver);
    if (!/^[\w.-]+$/.test(ups.driver))
      problems.push(`${upsConfFile} [${ups.name}] driver: "${ups.driver}" is not a driver name`);
    else if (!isExecutable(binary))
      problems.push(`${upsConfFile} [${ups.name}] driver: ${binary} does not exist or is not executable`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

function ensureWritableFolders(dirs: readonly string[]): void {
  for (const dir of new Set(dirs)) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o770 });
      accessSync(dir, constants.W_OK);
    } catch (error) {
      throw new ConfigError([
        `NUT state folder ${dir} cannot be created or written: ${(error as NodeJS.ErrnoException).code}`,
      ]);
    }
  }
}

/** `-u user` when configured; NUT otherwise drops to its compiled-in user. */
export function userArgs(setup: Pick<NutSetup, 'user'>): string[] {
  return setup.user ? ['-u', setup.user] : [];
}
