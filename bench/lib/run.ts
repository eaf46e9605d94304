// What every benchmark shares: runBench (cleanup always, Ctrl-C included), the header it prints first (machine,
// versions, date), and its command-line flags.
import os from 'node:os';
import { Cleanup } from '../../test/fixtures/cleanup.js';
import { createNutLab, type NutLab, UPSD_BIN } from '../../test/fixtures/nutLab.js';
import { NUT_VERSION } from '../../test/fixtures/nutVersion.js';

/** Everything a benchmark starts registers here; runBench runs it at the end, on an error and on Ctrl-C. */
export const cleanup = new Cleanup();
export const onCleanup = (name: string, fn: () => Promise<void> | void): (() => void) =>
  cleanup.add(name, fn);

/**
 * Runs a benchmark: cleanup always runs, Ctrl-C included (after `onInterrupt`, which may wind the body down).
 * A second Ctrl-C while cleaning up is ignored (with a note) so processes are not left behind; the steps are
 * bounded anyway. Exit code 0, 1 when the body threw, 130 on Ctrl-C.
 */
export async function runBench(body: () => Promise<void>, onInterrupt?: () => void): Promise<void> {
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) {
      process.stderr.write(`\n${signal} again: still cleaning up (bounded), please wait\n`);
      return;
    }
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping everything this benchmark started…\n`);
    onInterrupt?.();
    void cleanup.run().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await body();
  } catch (error) {
    if (!interrupted)
      process.stderr.write(`\nbenchmark failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  } finally {
    if (!interrupted) await cleanup.run();
  }
  if (interrupted) await new Promise(() => undefined); // process.exit(130) comes from the signal handler
  // Everything we started is stopped; do not let a forgotten timer or socket keep the process alive.
  process.exit(process.exitCode ?? 0);
}

/** A lab of `n` dummy-ups UPSes (ups1…), stopped by the cleanup unless `stop()` came first. */
export async function dummyLab(n: number): Promise<{ lab: NutLab; upses: string[]; stop(): Promise<void> }> {
  const upses = Array.from({ length: n }, (_, i) => `ups${i + 1}`);
  const lab = await createNutLab({ upses: upses.map((name) => ({ name })) });
  const unregister = onCleanup('lab', () => lab.stop());
  return { lab, upses, stop: () => lab.stop().then(unregister) };
}

export async function printHeader(title: string): Promise<void> {
  const cpus = os.cpus();
  const lines = [
    `== ${title} ==`,
    `date     ${new Date().toISOString()}`,
    `machine  ${cpus.length} CPU(s), ${cpus[0]?.model ?? 'unknown model'}, load average ${loadAverage()}, ${Math.round(os.totalmem() / 2 ** 20)} MiB RAM`,
    `software NUT ${NUT_VERSION} (upsd ${UPSD_BIN}), node ${process.version}, ${os.type()} ${os.release()}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Fails on any `--option` not in `known` (a mistyped option would otherwise be ignored). */
export function checkFlags(known: readonly string[]): void {
  for (const arg of process.argv.slice(2)) {
    const name = /^--([^=]+)/.exec(arg)?.[1];
    if (name !== undefined && !known.includes(name))
      throw new Error(`unknown option --${name} (known: ${known.map((k) => `--${k}`).join(' ')})`);
  }
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

export function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

/** The last line: "bench:poll took 1 min 32 s (load average now …)". */
export function took(name: string, startedAt: number): string {
  return `${name} took ${fmtDuration(Date.now() - startedAt)} (load average now ${loadAverage()})`;
}

/** "3 min 12 s" */
export function fmtDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}
