import type { AgentConfigShape } from '../config/schema.js';
import type { CircuitReason, RecoveryPolicyConfig } from './recoveryPolicy.js';
import type { RecoveryReason, StaleSource, SupervisionState } from './types.js';

/** The vocabulary of the per-UPS state machine (upsStateMachine.ts): its configuration, states, inputs and actions. */

/**
 * The driver's own DATASTALE is acted on after this long, not after STALE_GRACE: the driver has already applied its
 * own tolerance (blazer_ser: 3 failed polls; usbhid-ups: its failed reads) before it says stale. The short wait only
 * rides out a blip — DATASTALE and DATAOK sent within one update of the driver (milliseconds apart) — so such a
 * blip never costs a restart.
 */
export const DRIVER_STALE_DEBOUNCE_MS = 250;

export interface MachineConfig extends RecoveryPolicyConfig {
  /** How long staleness seen only through upsd (ERR DATA-STALE, DRIVER-NOT-CONNECTED) is tolerated. */
  staleGraceMs: number;
  /** How long the driver's own DATASTALE is tolerated (a blip filter, not a grace). */
  driverStaleGraceMs: number;
  /** How long a freshly started driver may take to produce fresh data. */
  startTimeoutMs: number;
}

/** The machine's configuration from the supervisor's settings. */
export function machineConfig(t: AgentConfigShape['supervisor']): MachineConfig {
  return {
    staleGraceMs: t.staleGrace,
    driverStaleGraceMs: Math.min(t.staleGrace, DRIVER_STALE_DEBOUNCE_MS),
    startTimeoutMs: t.startTimeout,
    backoffInitialMs: t.backoffInitial,
    backoffMaxMs: t.backoffMax,
    breakerRestarts: t.breakerRestarts,
    breakerWindowMs: t.breakerWindow,
    breakerStormRestarts: t.breakerStormRestarts,
    failedRetryMs: t.failedRetry,
  };
}

export interface Base {
  /** When this state was entered. */
  since: number;
  /** Driver restart times still relevant to the storm guard. */
  history: readonly number[];
  /** Times of failed recoveries still relevant to the circuit breaker; a successful recovery clears them. */
  failures: readonly number[];
}

/** A problem in progress: when it was first seen and why. */
export interface Fault {
  faultAt: number;
  reason: RecoveryReason;
  /** Recovery attempts made for this fault so far. */
  attempt: number;
}

export type MachineState =
  | (Base & { name: 'starting' })
  | (Base & { name: 'ok' })
  | (Base & Fault & { name: 'suspect'; deadline: number })
  | (Base & Fault & { name: 'recovering' })
  | (Base & Fault & { name: 'backoff'; until: number; lastError: string })
  | (Base & Fault & { name: 'failed'; until: number; lastError: string })
  | (Base & { name: 'stopped' });

// Compile-time: the machine's states are exactly SUPERVISION_STATES; a state added to one list fails here.
type Subset<A extends B, B> = A;
export type MachineStateName =
  | Subset<MachineState['name'], SupervisionState>
  | Subset<SupervisionState, MachineState['name']>;

export type MachineInput =
  /** Real data (a status other than WAIT) from upsd, or DATAOK from the driver. */
  | { type: 'fresh' }
  | { type: 'stale'; source: StaleSource }
  | { type: 'not-connected' }
  | { type: 'hung' }
  /** The driver burned a core's share for too long (see cpuSpin.ts). */
  | { type: 'spinning' }
  | { type: 'driver-exited' }
  | { type: 'restart-requested'; reason: 'manual' | 'upsd-restarted' }
  | { type: 'recovery-succeeded' }
  | { type: 'recovery-failed'; error: string }
  | { type: 'tick' }
  | { type: 'stop' };

export type MachineAction =
  /** Run the recovery ladder now (stop, force, start, verify fresh data), then report its result. */
  | { type: 'recover'; reason: RecoveryReason; attempt: number }
  | { type: 'ready'; startupMs: number }
  | { type: 'stale-cleared' }
  | { type: 'recovered'; reason: RecoveryReason; attempt: number; durationMs: number }
  | {
      type: 'recovery-failed';
      reason: RecoveryReason;
      attempt: number;
      error: string;
      retryInMs: number;
      circuitOpen: boolean;
      /** Why the circuit is open; null while it is closed. */
      circuitReason: CircuitReason | null;
    };

export interface Step {
  state: MachineState;
  actions: MachineAction[];
}

export type In<N extends MachineState['name']> = Extract<MachineState, { name: N }>;
