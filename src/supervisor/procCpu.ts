import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { CpuSample } from './cpuSpin.js';

/**
 * utime + stime (clock ticks) from the text of /proc/<pid>/stat; undefined when it cannot be read. The command
 * name (field 2) is in parentheses and may itself contain spaces and parentheses: count fields after the last `)`.
 */
export function parseProcStatTicks(text: string): number | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  // After ")": state(3) ppid(4) … utime(14) stime(15), so utime is the 12th word, stime the 13th.
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isInteger(utime) || !Number.isInteger(stime)) return undefined;
  return utime + stime;
}

/** One CPU sample of a process, or undefined when it is gone (or /proc is not there). */
export async function readCpuSample(
  pid: number,
  now: () => number,
  procRoot = '/proc',
): Promise<CpuSample | undefined> {
  try {
    const text = await readFile(`${procRoot}/${pid}/stat`, 'utf8');
    const ticks = parseProcStatTicks(text);
    return ticks === undefined ? undefined : { at: now(), ticks };
  } catch {
    return undefined;
  }
}

let clockTicks: Promise<number> | undefined;

/**
 * The kernel's USER_HZ (the unit of utime/stime), from `getconf CLK_TCK`, asked once. Node has no sysconf(); when
 * getconf is missing, 100 — USER_HZ is 100 on every Linux architecture Node runs on (the kernel fixes it there,
 * whatever CONFIG_HZ is), so the fallback is the real value in practice.
 */
export function clockTicksPerSecond(): Promise<number> {
  clockTicks ??= new Promise((resolve) => {
    execFile('getconf', ['CLK_TCK'], { timeout: 2000 }, (error, stdout) => {
      const value = Number(String(stdout).trim());
      resolve(!error && Number.isInteger(value) && value > 0 ? value : 100);
    });
  });
  return clockTicks;
}
