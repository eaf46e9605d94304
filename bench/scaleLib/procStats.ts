// CPU and memory of processes from /proc: the agent's own (utime + stime, VmRSS) and the NUT processes' sum.
import { cpuMs, rssKb } from '../../test/fixtures/proc.js';

/** CPU used between two readings, as % of one core. */
export function cpuPercent(usedMs: number, wallMs: number): number {
  return wallMs > 0 ? (usedMs / wallMs) * 100 : 0;
}

/** CPU time so far of each pid (ms); pids that are gone are left out. */
export function cpuOf(pids: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    const ms = cpuMs(pid);
    if (ms !== undefined) out.set(pid, ms);
  }
  return out;
}

/** CPU used between two `cpuOf` readings, summed over the pids present in both. */
export function cpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, ms] of after) {
    const was = before.get(pid);
    if (was !== undefined) sum += ms - was;
  }
  return sum;
}

/** Samples one process's RSS every `intervalMs` until stopped; keeps the maximum and the last value. */
export class RssSampler {
  maxKib = 0;
  firstKib = 0;
  lastKib = 0;
  samples = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly pid: number,
    intervalMs = 500,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const kib = rssKb(this.pid);
    if (kib === undefined) return;
    this.samples++;
    if (this.samples === 1) this.firstKib = kib;
    this.lastKib = kib;
    this.maxKib = Math.max(this.maxKib, kib);
  }

  stop(): void {
    this.sample();
    clearInterval(this.timer);
  }
}
