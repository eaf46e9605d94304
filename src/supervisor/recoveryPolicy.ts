import { backoffDelay } from '../backoff.js';

/**
 * When to try again, and when to stop trying for a while. Pure: the restart and failure histories are values that
 * the state machine carries, so every decision is testable with plain numbers.
 *
 * The breaker counts failures, not restarts: a restart that brings fresh data back is the agent doing its job, and
 * a flaky UPS with a bad hour (NUT #3576) must not be left dark for it. Only a storm of restarts — many more than a
 * bad hour brings, even when each succeeds — also opens the circuit.
 */
export interface RecoveryPolicyConfig {
  /** Wait after the first failed recovery; doubles after each further failure. */
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** This many failed recoveries inside the window open the circuit (state `failed`). */
  breakerRestarts: number;
  breakerWindowMs: number;
  /** Storm guard: this many restarts inside the window open the circuit even when each one succeeded. */
  breakerStormRestarts: number;
  /** Wait between the slow retries while the circuit is open. */
  failedRetryMs: number;
}

/** Why the circuit opened: too many failed recoveries, or a storm of restarts that each worked for a moment. */
export type CircuitReason = 'failures' | 'storm';

/** Delay before attempt `failedAttempts + 1`, after `failedAttempts` consecutive failed recoveries (≥ 1). */
export function recoveryDelay(failedAttempts: number, config: RecoveryPolicyConfig): number {
  return backoffDelay(failedAttempts, { initialMs: config.backoffInitialMs, maxMs: config.backoffMaxMs });
}

/** Times (restarts or failures) still inside the breaker window. */
export function recentRestarts(
  history: readonly number[],
  now: number,
  config: RecoveryPolicyConfig,
): number[] {
  return history.filter((at) => now - at < config.breakerWindowMs);
}

/**
 * Whether the circuit is open, and why: `failures` (failed recoveries inside the window) wins over `storm`
 * (restarts inside the window, successful or not). Undefined while closed.
 */
export function circuitOpen(
  history: { restarts: readonly number[]; failures: readonly number[] },
  now: number,
  config: RecoveryPolicyConfig,
): CircuitReason | undefined {
  if (recentRestarts(history.failures, now, config).length >= config.breakerRestarts) return 'failures';
  if (recentRestarts(history.restarts, now, config).length >= config.breakerStormRestarts) return 'storm';
  return undefined;
}

/** The log's and the event's words for why the circuit opened. */
export function circuitMessage(
  reason: CircuitReason,
  history: { restarts: readonly number[]; failures: readonly number[] },
  now: number,
  config: RecoveryPolicyConfig,
): string {
  const windowS = Math.round(config.breakerWindowMs / 1000);
  return reason === 'failures'
    ? `circuit breaker open: ${recentRestarts(history.failures, now, config).length} failed recoveries within ${windowS} s`
    : `circuit breaker open: restart storm, ${recentRestarts(history.restarts, now, config).length} restarts within ${windowS} s`;
}

/** Why the circuit opened, for the log line. */
export function circuitWords(reason: CircuitReason | null): string {
  if (reason === 'failures') return 'circuit open (too many failed recoveries), ';
  if (reason === 'storm') return 'circuit open (restart storm: too many restarts, even successful ones), ';
  return '';
}
