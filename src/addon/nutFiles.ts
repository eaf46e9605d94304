import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseUpsConf } from '../nut/confParser.js';
import { type InitFile, NUT_CONF_FILE, upsdConfFile, upsdUsersFile } from '../nut/initConfig.js';
import { type AddonOptions, AddonOptionsError, type AddonUps } from './options.js';

/** The NUT files a user may bring in the add-on's config folder (nut_files on); ups.conf is the one required. */
export const USER_NUT_FILES = ['ups.conf', 'upsd.conf', 'upsd.users'] as const;
export type UserNutFiles = Partial<Record<(typeof USER_NUT_FILES)[number], string>>;

const MAX_FILE_BYTES = 1024 * 1024;
const WRITER = 'from the add-on options on every start (edit the options, not this file)';

function upsSection(ups: AddonUps): string[] {
  return [
    '',
    `[${ups.name}]`,
    `  driver = ${ups.driver}`,
    `  port = "${ups.port}"`,
    ...(ups.desc ? [`  desc = "${ups.desc}"`] : []),
    ...(ups.vendorid ? [`  vendorid = ${ups.vendorid}`] : []),
    ...(ups.productid ? [`  productid = ${ups.productid}`] : []),
    ...(ups.serial ? [`  serial = "${ups.serial}"`] : []),
    ...ups.config,
  ];
}

export interface AddonNutInputs {
  /** upsd's LISTEN (0.0.0.0 3493 in the add-on: the Supervisor maps the port). */
  listenHost: string;
  listenPort: number;
  /** The monitor user's password (options.nut_password, or a random one). */
  password: string;
  /** The user's own files, read from the config folder, when nut_files is on. */
  userFiles?: UserNutFiles;
}

/**
 * NUT's configuration for the add-on, written on every start into /data/nut: ups.conf from the `upses` option (or
 * the user's own ups.conf with nut_files), upsd.conf listening for other NUT clients, upsd.users with the monitor
 * user (or the user's own files). Pure; throws AddonOptionsError when the user's ups.conf is missing or unusable.
 */
export function addonNutFiles(options: AddonOptions, inputs: AddonNutInputs): InitFile[] {
  const own = inputs.userFiles ?? {};
  let upsConf: string;
  if (options.nut_files) {
    const text = own['ups.conf'];
    if (text === undefined)
      throw new AddonOptionsError([
        'nut_files is on, but there is no ups.conf in the add-on’s config folder (addon_configs/<…>_nut_mqtt)',
      ]);
    try {
      parseUpsConf(text, 'your ups.conf');
    } catch (error) {
      throw new AddonOptionsError([(error as Error).message]);
    }
    upsConf = text;
  } else {
    const lines = [`# Written by nut-mqtt ${WRITER}.`, ...options.upses.flatMap(upsSection)];
    upsConf = `${lines.join('\n')}\n`;
  }
  return [
    NUT_CONF_FILE,
    { name: 'ups.conf', content: upsConf, mode: 0o640 },
    own['upsd.conf'] !== undefined
      ? { name: 'upsd.conf', content: own['upsd.conf'], mode: 0o640 }
      : upsdConfFile(inputs.listenHost, inputs.listenPort, WRITER),
    own['upsd.users'] !== undefined
      ? { name: 'upsd.users', content: own['upsd.users'], mode: 0o600 }
      : upsdUsersFile(options.nut_username, inputs.password, options.instcmd_allow, WRITER),
  ];
}

/** The user's NUT files in `dir` (the add-on's config folder); absent files are left out. */
export function readUserNutFiles(dir: string): UserNutFiles {
  const files: UserNutFiles = {};
  for (const name of USER_NUT_FILES) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    const stat = statSync(path);
    if (!stat.isFile() || stat.size > MAX_FILE_BYTES)
      throw new AddonOptionsError([`${path}: not a regular file of at most 1 MiB`]);
    files[name] = readFileSync(path, 'utf8');
  }
  return files;
}

/** Writes each file into `dir` atomically (a temporary file, then rename), replacing what was there. */
export function writeNutFiles(dir: string, files: readonly InitFile[]): string[] {
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  return files.map((file) => {
    const path = join(dir, file.name);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, file.content, { mode: file.mode });
    chmodSync(tmp, file.mode);
    renameSync(tmp, path);
    return path;
  });
}
