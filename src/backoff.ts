/**
 * The one exponential backoff of the agent: `initialMs`, doubling after every further failure, capped at `maxMs`.
 * Failed driver recoveries use it with their settings (BACKOFF_INITIAL, BACKOFF_MAX); the retries without settings
 * of their own (a upsd that keeps dying at start, MQTT reconnects) use RETRY_BACKOFF.
 */
export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/**
 * 1 s, 2 s, 4 s … 30 s. The cap: a broker or upsd that comes back is seen within half a minute, and one that stays
 * away costs an attempt (and a log line at most) per 30 s.
 */
export const RETRY_BACKOFF: Readonly<Backoff> = { initialMs: 1000, maxMs: 30_000 };

/** The wait after `failures` consecutive failures (≥ 1): initialMs · 2^(failures − 1), at most maxMs. */
export function backoffDelay(failures: number, backoff: Backoff): number {
  const exponent = Math.max(0, Math.min(failures - 1, 30));
  return Math.min(backoff.initialMs * 2 ** exponent, backoff.maxMs);
}
