/**
 * Is a driver spinning? Pure: CPU samples in, a verdict out. NUT 2.8.0–2.8.2 drivers spin at 50–88 % of a core
 * after a socket client disconnects (NUT #2484, #3325) while their data stays fresh, so nothing else notices.
 */

/** One reading of a process's CPU time: utime + stime in clock ticks, at a wall-clock time in ms. */
export interface CpuSample {
  at: number;
  ticks: number;
}

export interface SpinConfig {
  /** Share of one core (0–1) above which a driver counts as busy. */
  cpuShare: number;
  /** How long it must stay busy, without a break, to count as spinning. */
  durationMs: number;
  /** Clock ticks per second of the tick counts (sysconf(_SC_CLK_TCK)). */
  ticksPerSecond: number;
}

export type SpinVerdict =
  | { spinning: false }
  | {
      spinning: true;
      /** Mean share of a core over the busy stretch. */
      cpuShare: number;
      /** Length of the busy stretch. */
      durationMs: number;
    };

/** Share of one core used between two samples; undefined when no time passed (or the counter went back). */
export function cpuShareBetween(a: CpuSample, b: CpuSample, ticksPerSecond: number): number | undefined {
  const wallMs = b.at - a.at;
  const ticks = b.ticks - a.ticks;
  if (wallMs <= 0 || ticks < 0) return undefined;
  return ticks / ticksPerSecond / (wallMs / 1000);
}

/**
 * Spinning when every interval of the most recent, unbroken busy stretch is above the share, and the stretch
 * covers at least the duration. One quiet interval resets it: a busy-but-healthy driver (a burst per update)
 * never stays above the share that long. Samples are in time order, of one process.
 */
export function spinVerdict(samples: readonly CpuSample[], config: SpinConfig): SpinVerdict {
  let end: CpuSample | undefined;
  let start: CpuSample | undefined;
  for (let i = samples.length - 1; i > 0; i--) {
    const b = samples[i] as CpuSample;
    const a = samples[i - 1] as CpuSample;
    const share = cpuShareBetween(a, b, config.ticksPerSecond);
    if (share === undefined || share <= config.cpuShare) break;
    end ??= b;
    start = a;
  }
  if (!start || !end) return { spinning: false };
  const durationMs = end.at - start.at;
  if (durationMs < config.durationMs) return { spinning: false };
  return {
    spinning: true,
    cpuShare: cpuShareBetween(start, end, config.ticksPerSecond) ?? 0,
    durationMs,
  };
}

/**
 * How many samples to keep: enough to cover the duration at the sampling interval, plus slack. Older ones can
 * never change a verdict (the stretch only needs to reach the duration).
 */
export function samplesToKeep(durationMs: number, intervalMs: number): number {
  return Math.ceil(durationMs / intervalMs) + 3;
}

/** Sample often enough to see the duration in several intervals, but not more than once every 250 ms. */
export function sampleInterval(durationMs: number): number {
  return Math.min(5000, Math.max(250, Math.round(durationMs / 6)));
}
