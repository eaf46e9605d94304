// /proc helpers for the soak. A process belongs to the lab when its environment carries the lab's NUT_CONFPATH
// (the agent passes it to upsd and every driver). Nothing here signals a pid without checking that first, so
// another NUT on this machine is never touched.
import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { readNulList } from '../lib/procs.js';

export interface LabProc {
  pid: number;
  argv: string[];
  /** R, S, D, T (stopped), … (zombies are left out). */
  state: string;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** Exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const s = procState(pid);
  return s !== undefined && s !== 'Z' && s !== 'X';
}

export function hasConfPath(pid: number, confPath: string): boolean {
  return readNulList(`/proc/${pid}/environ`)?.includes(`NUT_CONFPATH=${confPath}`) ?? false;
}

/** Every live process (not a zombie) whose environment has NUT_CONFPATH=<confPath>, except `exclude`. */
export function labProcesses(confPath: string, exclude: readonly number[] = []): LabProc[] {
  const out: LabProc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (exclude.includes(pid) || pid === process.pid) continue;
    if (!hasConfPath(pid, confPath)) continue;
    const state = procState(pid);
    const argv = readNulList(`/proc/${pid}/cmdline`);
    if (state === undefined || state === 'Z' || state === 'X' || !argv) continue;
    out.push({ pid, argv, state });
  }
  return out;
}

/** UPS name of a driver process (`<driver> -a <ups> …`), undefined for anything else. */
export function driverUps(p: LabProc): string | undefined {
  const i = p.argv.indexOf('-a');
  return i >= 0 ? p.argv[i + 1] : undefined;
}

export function isUpsd(p: LabProc): boolean {
  return basename(p.argv[0] ?? '') === 'upsd';
}

/** The pids that run the lab's NUT right now: each UPS's driver(s) and upsd. */
export interface NutPids {
  drivers: Map<string, number[]>;
  upsd: number[];
  stopped: LabProc[];
}

export function nutPids(confPath: string, agentPid: number): NutPids {
  const drivers = new Map<string, number[]>();
  const upsd: number[] = [];
  const stopped: LabProc[] = [];
  for (const p of labProcesses(confPath, [agentPid])) {
    if (p.state === 'T' || p.state === 't') stopped.push(p);
    const ups = driverUps(p);
    if (ups !== undefined) drivers.set(ups, [...(drivers.get(ups) ?? []), p.pid]);
    else if (isUpsd(p)) upsd.push(p.pid);
  }
  return { drivers, upsd, stopped };
}

/** Signals pid only if it still belongs to the lab (a recycled pid is never hit). */
export function signalLabPid(pid: number, confPath: string, signal: NodeJS.Signals): boolean {
  if (!isAlive(pid) || !hasConfPath(pid, confPath)) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM + SIGCONT, then SIGKILL after `graceMs`; each pid checked against the lab first. */
export async function killLabPids(pids: readonly number[], confPath: string, graceMs = 3000): Promise<void> {
  for (const pid of pids) {
    signalLabPid(pid, confPath, 'SIGTERM');
    signalLabPid(pid, confPath, 'SIGCONT');
  }
  const deadline = Date.now() + graceMs;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(50);
  for (const pid of pids) signalLabPid(pid, confPath, 'SIGKILL');
}

export function fdCount(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

/** VmRSS in KiB. */
export function rssKb(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Resolves once pid is gone (or a zombie), false after `ms`. */
export async function waitGone(pid: number, ms: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
  return true;
}
