/**
 * Each driver's normal PONG latency, learned, so the hang timeout fits the driver instead of a guess. Pure: the
 * samples are a value; the probe keeps one per connection.
 *
 * Why: a driver answers PING from its main loop, between updates. blazer_ser answers in well under a millisecond;
 * dummy-ups sleeps 1 s inside every update, so a PING can wait ~1 s (nut-lab.md §8: up to 974 ms, p90 585 ms).
 * One fixed timeout (PROBE_TIMEOUT, 2 s) must cover the slowest driver and so detects every other one's hang late.
 * The learned timeout is `factor × p99` of the recent latencies, and at least `outlierFactor ×` the slowest of them
 * (a rare slow PONG that the p99 leaves out must not be a hang the next time), never below `floorMs` (scheduling hiccups of a
 * busy host are not hangs) and never above PROBE_TIMEOUT (the user's bound: learning only ever shortens it). Until
 * `minSamples` PONGs have been seen the timeout is PROBE_TIMEOUT itself.
 */
export interface PongLatencyConfig {
  /** PROBE_TIMEOUT: the timeout before enough is known, and the upper bound after. */
  ceilingMs: number;
  /** The lower bound of a learned timeout. */
  floorMs: number;
  /** Headroom over the p99 of the recent latencies. */
  factor: number;
  /** Headroom over the slowest recent latency. */
  outlierFactor: number;
  /** PONGs seen before the learned timeout is used. */
  minSamples: number;
  /** How many recent latencies are kept. */
  windowSize: number;
}

/**
 * The defaults: at PROBE_INTERVAL 250 the window is the last one to two minutes of a driver's life. 60 PONGs before
 * learning: about half of a dummy-ups driver's PINGs wait out its 1 s sleep, so 60 PONGs all but surely include one
 * close to the slowest (a young window that missed it would learn a timeout below it).
 */
export function pongLatencyConfig(probeTimeoutMs: number): PongLatencyConfig {
  return {
    ceilingMs: probeTimeoutMs,
    floorMs: Math.min(probeTimeoutMs, 1000),
    factor: 1.3,
    outlierFactor: 1.1,
    minSamples: 60,
    windowSize: 200,
  };
}

/** The samples with `latencyMs` added, the oldest dropped beyond the window. */
export function recordLatency(
  samples: readonly number[],
  latencyMs: number,
  config: PongLatencyConfig,
): number[] {
  const next = [...samples, Math.max(0, latencyMs)];
  return next.length > config.windowSize ? next.slice(next.length - config.windowSize) : next;
}

/** The 99th percentile (nearest rank) of the samples; 0 when there are none. */
export function p99(samples: readonly number[]): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)] as number;
}

/** The PING timeout to use now. */
export function learnedTimeout(samples: readonly number[], config: PongLatencyConfig): number {
  if (samples.length < config.minSamples) return config.ceilingMs;
  const learned = Math.ceil(
    Math.max(config.factor * p99(samples), config.outlierFactor * Math.max(...samples)),
  );
  return Math.min(config.ceilingMs, Math.max(config.floorMs, learned));
}
