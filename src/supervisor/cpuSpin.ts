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
 * Spinning when, over the last `durationMs` (from the newest sample back to the latest one at least that old),
 * the driver used more than the share of a core on average, and in each half of that window too — so a driver
 * that was busy for a while and is quiet now (a start-up, a burst of USB I/O) is not taken for a spinning one.
 * Averages, not every interval: a spinning NUT driver is not busy in every sample either (a 2.8.0 dummy-ups spins
 * flat out between updates, then sleeps in its update: ~50 % overall, with idle 500 ms samples). Samples are in
 * time order, of one process.
 */
export function spinVerdict(samples: readonly CpuSample[], config: SpinConfig): SpinVerdict {
  const newest = samples[samples.length - 1];
  if (!newest) return { spinning: false };
  const startIndex = lastIndexAtOrBefore(samples, newest.at - config.durationMs);
  if (startIndex < 0) return { spinning: false };
  const start = samples[startIndex] as CpuSample;
  const midIndex = lastIndexAtOrBefore(samples, (start.at + newest.at) / 2);
  if (midIndex <= startIndex || midIndex >= samples.length - 1) return { spinning: false };
  const mid = samples[midIndex] as CpuSample;
  const { ticksPerSecond } = config;
  const whole = cpuShareBetween(start, newest, ticksPerSecond);
  const older = cpuShareBetween(start, mid, ticksPerSecond);
  const newer = cpuShareBetween(mid, newest, ticksPerSecond);
  if (whole === undefined || older === undefined || newer === undefined) return { spinning: false };
  if (Math.min(whole, older, newer) <= config.cpuShare) return { spinning: false };
  return { spinning: true, cpuShare: whole, durationMs: newest.at - start.at };
}

function lastIndexAtOrBefore(samples: readonly CpuSample[], at: number): number {
  for (let i = samples.length - 1; i >= 0; i--) if ((samples[i] as CpuSample).at <= at) return i;
  return -1;
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
