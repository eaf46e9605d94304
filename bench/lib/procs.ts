// /proc helpers. A process "belongs to a lab" when its environment carries that lab's NUT_CONFPATH (every NUT
// program and the agent get it) or its command line names one of the lab's folders (socat's pty link).
// Nothing here signals a pid it did not first match that way, so other people's NUT processes are never touched.
import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { sleep } from './header.js';

/** /proc reports times in USER_HZ, which is 100 on Linux. */
const TICK_MS = 10;

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** R, S, D, T (stopped), Z (zombie), … */
  state: string;
  argv: string[];
}

interface Stat {
  state: string;
  ppid: number;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
}

function readStat(pid: number | 'self'): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields from 3 on; the parenthesised name before them may itself contain spaces or ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const n = (i: number): number => Number(f[i - 3]);
    return { state: f[0] ?? '?', ppid: n(4), utime: n(14), stime: n(15), cutime: n(16), cstime: n(17) };
  } catch {
    return undefined;
  }
}

/** A NUL-separated /proc file (cmdline, environ) as a list; undefined when the process is gone. */
export function readNulList(file: string): string[] | undefined {
  try {
    return readFileSync(file, 'utf8')
      .split('\0')
      .filter((s) => s !== '');
  } catch {
    return undefined;
  }
}

/** Alive = exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const s = readStat(pid)?.state;
  return s !== undefined && s !== 'Z' && s !== 'X';
}

export function procState(pid: number): string | undefined {
  return readStat(pid)?.state;
}

/** CPU (user + system) a process has used so far, in ms. */
export function cpuMs(pid: number): number | undefined {
  const s = readStat(pid);
  return s ? (s.utime + s.stime) * TICK_MS : undefined;
}

/** CPU of this process's children that have exited and been waited for (cutime + cstime), in ms. */
export function reapedChildrenCpuMs(): number {
  const s = readStat('self');
  return s ? (s.cutime + s.cstime) * TICK_MS : 0;
}

function procInfo(pid: number): ProcInfo | undefined {
  const stat = readStat(pid);
  const argv = readNulList(`/proc/${pid}/cmdline`);
  if (!stat || !argv || argv.length === 0) return undefined;
  return { pid, ppid: stat.ppid, state: stat.state, argv };
}

export interface LabMatch {
  confPath: string;
  /** Folders of the lab (temp dirs): a command line that names one belongs to the lab. */
  dirs: readonly string[];
}

function belongs(pid: number, argv: readonly string[], match: LabMatch): boolean {
  const env = readNulList(`/proc/${pid}/environ`);
  if (env?.includes(`NUT_CONFPATH=${match.confPath}`)) return true;
  return argv.some((a) => match.dirs.some((d) => a.includes(d)));
}

/** Every live (non-zombie) process of the lab, except this bench process. */
export function labProcesses(match: LabMatch): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const info = procInfo(pid);
    if (!info || info.state === 'Z' || info.state === 'X') continue;
    if (belongs(pid, info.argv, match)) out.push(info);
  }
  return out;
}

/** Driver processes `<driver> -a <ups> …` of the lab. */
export function findDrivers(match: LabMatch, driver: string, ups: string): ProcInfo[] {
  return labProcesses(match).filter((p) => {
    if (basename(p.argv[0] ?? '') !== driver) return false;
    const i = p.argv.indexOf('-a');
    return i >= 0 && p.argv[i + 1] === ups;
  });
}

export function findUpsd(match: LabMatch): ProcInfo[] {
  return labProcesses(match).filter((p) => basename(p.argv[0] ?? '') === 'upsd');
}

export function describe(p: ProcInfo): string {
  return `pid ${p.pid} [${p.state}] ppid ${p.ppid} ${p.argv.join(' ')}`;
}

/**
 * SIGKILL (works on a stopped process too), then SIGCONT for good measure, then wait until it is gone.
 * The caller must have matched the pid to a lab just before (see findDrivers / labProcesses).
 */
export async function killHard(pid: number, waitMs = 2000): Promise<boolean> {
  for (const sig of ['SIGKILL', 'SIGCONT'] as const) {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
  return waitGone(pid, waitMs);
}

export async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(10);
  }
  return true;
}

/**
 * Kills every remaining process of the lab and returns what it found: first whatever could start NUT programs
 * again (the agent, upsdrvctl) and socat, then the drivers, upsd last.
 */
export async function sweepLab(match: LabMatch): Promise<ProcInfo[]> {
  const found = labProcesses(match);
  const order = (p: ProcInfo): number => {
    const name = basename(p.argv[0] ?? '');
    if (name === 'upsd') return 2;
    return name === 'upsdrvctl' || !(p.argv[0] ?? '').includes('/nut/') ? 0 : 1;
  };
  for (const p of [...found].sort((a, b) => order(a) - order(b))) await killHard(p.pid);
  return found;
}
