// What every benchmark prints first (machine, versions, date) and small command-line helpers.
import os from 'node:os';
import { UPSD_BIN } from '../../test/fixtures/nutLab.js';
import { NUT_VERSION } from '../../test/fixtures/nutVersion.js';

export async function printHeader(title: string): Promise<void> {
  const cpus = os.cpus();
  const load = loadAverage();
  const lines = [
    `== ${title} ==`,
    `date     ${new Date().toISOString()}`,
    `machine  ${cpus.length} CPU(s), ${cpus[0]?.model ?? 'unknown model'}, load average ${load}, ${Math.round(os.totalmem() / 2 ** 20)} MiB RAM`,
    `software NUT ${NUT_VERSION} (upsd ${UPSD_BIN}), node ${process.version}, ${os.type()} ${os.release()}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** `--name N` (or `--name=N`) as a whole number within [min, max]; the default when absent. */
export function intFlag(name: string, fallback: number, min = 1, max = 100_000): number {
  const raw = stringFlag(name, '');
  if (raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new Error(`--${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  }
  return Number(raw);
}

/** `--name value` (or `--name=value`), or the default. */
export function stringFlag(name: string, fallback: string): string {
  const argv = process.argv.slice(2);
  let raw: string | undefined;
  argv.forEach((arg, i) => {
    if (arg === `--${name}`) raw = argv[i + 1];
    else if (arg.startsWith(`--${name}=`)) raw = arg.slice(name.length + 3);
  });
  return raw ?? fallback;
}

export function boolFlag(name: string): boolean {
  return process.argv.slice(2).includes(`--${name}`);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

/** "3 min 12 s" */
export function fmtDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}
