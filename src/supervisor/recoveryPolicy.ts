import { backoffDelay } from '../backoff.js';

/**
 * When to try again, and when to stop trying for a while. Pure: the restart history is a value that the state
 * machine carries, so every decision is testable with plain numbers.
 */
export interface RecoveryPolicyConfig {
  /** Wait after the first failed recovery; doubles after each further failure. */
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** This many restarts inside the window open the circuit (state `failed`). */
  breakerRestarts: number;
  breakerWindowMs: number;
  /** Wait between the slow retries while the circuit is open. */
  failedRetryMs: number;
}

/** Delay before attempt `failedAttempts + 1`, after `failedAttempts` consecutive failed recoveries (≥ 1). */
export function recoveryDelay(failedAttempts: number, config: RecoveryPolicyConfig): number {
  return backoffDelay(failedAttempts, { initialMs: config.backoffInitialMs, maxMs: config.backoffMaxMs });
}

/** Restart times still inside the breaker window. */
export function recentRestarts(
  history: readonly number[],
  now: number,
  config: RecoveryPolicyConfig,
): number[] {
  return history.filter((at) => now - at < config.breakerWindowMs);
}

export function circuitOpen(history: readonly number[], now: number, config: RecoveryPolicyConfig): boolean {
  return recentRestarts(history, now, config).length >= config.breakerRestarts;
}
