import type {
  Fault,
  In,
  MachineAction,
  MachineConfig,
  MachineInput,
  MachineState,
  Step,
} from './machineTypes.js';
import { circuitMessage, circuitOpen, recentRestarts, recoveryDelay } from './recoveryPolicy.js';
import type { RecoveryReason, StaleSource } from './types.js';

export {
  DRIVER_STALE_DEBOUNCE_MS,
  type MachineAction,
  type MachineConfig,
  type MachineInput,
  type MachineState,
  type MachineStateName,
  machineConfig,
  type Step,
} from './machineTypes.js';

/**
 * The per-UPS supervision state machine: `(state, input, now) → (state, actions)`. Pure — no timers, no I/O.
 * The UPS supervisor feeds it what it observes (polls, the driver's feed, PINGs, process exits, the results of
 * the recovery ladder, clock ticks) and performs the actions it returns.
 *
 *   starting ──fresh──▶ ok ──stale/not-connected──▶ suspect ──grace over──▶ recovering ──fresh──▶ ok
 *                        │                            │ fresh ▶ ok              │ failed
 *                        └──hung / driver exited──────┴────────────────────────▶│
 *                                                                    backoff ◀──┤──▶ failed (circuit open)
 *                                                                       └─ time ─▶ recovering ◀─ slow retry ─┘
 */

export function initialState(now: number): MachineState {
  return { name: 'starting', since: now, history: [], failures: [] };
}

/**
 * When the machine next needs a `tick` (a grace period, start timeout or backoff ends), or undefined when only an
 * observation can move it. Lets the supervisor sleep instead of polling the clock.
 */
export function nextDeadline(state: MachineState, config: MachineConfig): number | undefined {
  switch (state.name) {
    case 'starting':
      return state.since + config.startTimeoutMs;
    case 'suspect':
      return state.deadline;
    case 'backoff':
    case 'failed':
      return state.until;
    default:
      return undefined;
  }
}

const stay = (state: MachineState): Step => ({ state, actions: [] });

function toOk(state: MachineState, now: number, actions: MachineAction[]): Step {
  return { state: { name: 'ok', since: now, history: state.history, failures: state.failures }, actions };
}

/** Back to ok after a fault: reports how long it took from the fault to fresh data. */
function recovered(state: MachineState & Fault, now: number): Step {
  // Fresh data is back: the failures that came before it say nothing about the next fault.
  return toOk({ ...state, failures: [] }, now, [
    { type: 'recovered', reason: state.reason, attempt: state.attempt, durationMs: now - state.faultAt },
  ]);
}

/** Start (or refuse, when the breaker is open) a recovery for `fault`. */
function recover(
  state: MachineState,
  fault: Fault,
  now: number,
  config: MachineConfig,
  options: { bypassBreaker?: boolean; countRestart?: boolean } = {},
): Step {
  const { faultAt, reason, attempt: previousAttempts } = fault;
  const history = recentRestarts(state.history, now, config);
  const failures = recentRestarts(state.failures, now, config);
  const open = options.bypassBreaker ? undefined : circuitOpen({ restarts: history, failures }, now, config);
  if (open) {
    const error = circuitMessage(open, { restarts: history, failures }, now, config);
    return {
      state: {
        name: 'failed',
        since: now,
        history,
        failures,
        faultAt,
        reason,
        attempt: previousAttempts,
        until: now + config.failedRetryMs,
        lastError: error,
      },
      actions: [
        {
          type: 'recovery-failed',
          reason,
          attempt: previousAttempts,
          error,
          retryInMs: config.failedRetryMs,
          circuitOpen: true,
          circuitReason: open,
        },
      ],
    };
  }
  const attempt = previousAttempts + 1;
  const nextHistory = options.countRestart === false ? history : [...history, now];
  return {
    state: { name: 'recovering', since: now, history: nextHistory, failures, faultAt, reason, attempt },
    actions: [{ type: 'recover', reason, attempt }],
  };
}

function newFault(reason: RecoveryReason, now: number): Fault {
  return { faultAt: now, reason, attempt: 0 };
}

/** A restart asked for from outside: manual ones bypass the breaker; after an upsd restart they do not count. */
function requested(
  state: MachineState,
  reason: 'manual' | 'upsd-restarted',
  now: number,
  config: MachineConfig,
): Step {
  const fault =
    'faultAt' in state ? { ...newFault(reason, now), attempt: state.attempt } : newFault(reason, now);
  return recover(state, fault, now, config, { bypassBreaker: true, countRestart: reason === 'manual' });
}

export function step(state: MachineState, input: MachineInput, now: number, config: MachineConfig): Step {
  if (input.type === 'stop')
    return {
      state: { name: 'stopped', since: now, history: state.history, failures: state.failures },
      actions: [],
    };
  switch (state.name) {
    case 'stopped':
      return stay(state);
    case 'starting':
      return fromStarting(state, input, now, config);
    case 'ok':
      return fromOk(state, input, now, config);
    case 'suspect':
      return fromSuspect(state, input, now, config);
    case 'recovering':
      return fromRecovering(state, input, now, config);
    case 'backoff':
    case 'failed':
      return fromWaiting(state, input, now, config);
  }
}

/** Without a fault in progress (starting, ok): a hang or an exit is a new fault; a request, a restart. */
function newTrouble(state: MachineState, input: MachineInput, now: number, config: MachineConfig): Step {
  switch (input.type) {
    case 'hung':
      return recover(state, newFault('hung', now), now, config);
    case 'spinning':
      return recover(state, newFault('spinning', now), now, config);
    case 'driver-exited':
      return recover(state, newFault('crashed', now), now, config);
    case 'restart-requested':
      return requested(state, input.reason, now, config);
    default:
      return stay(state);
  }
}

function fromStarting(state: In<'starting'>, input: MachineInput, now: number, config: MachineConfig): Step {
  switch (input.type) {
    case 'fresh':
      return toOk(state, now, [{ type: 'ready', startupMs: now - state.since }]);
    case 'tick':
      return now - state.since >= config.startTimeoutMs
        ? recover(state, newFault('no-data', now), now, config)
        : stay(state);
    default:
      // WAIT, stale and not-connected are normal while a driver starts; startTimeoutMs bounds them.
      return newTrouble(state, input, now, config);
  }
}

/**
 * How long staleness from `source` is tolerated before a restart: STALE_GRACE for upsd's word; the blip filter for
 * the driver's DATASTALE (DATAOK may follow within the same update); nothing for the driver's comm-lost log line,
 * which it writes after its own retries and never takes back.
 */
function staleGraceFor(source: StaleSource, config: MachineConfig): number {
  if (source === 'upsd') return config.staleGraceMs;
  return source === 'driver' ? config.driverStaleGraceMs : 0;
}

function fromOk(state: In<'ok'>, input: MachineInput, now: number, config: MachineConfig): Step {
  if (input.type !== 'stale' && input.type !== 'not-connected') return newTrouble(state, input, now, config);
  const reason = input.type === 'stale' ? 'stale' : 'not-connected';
  const graceMs = input.type === 'stale' ? staleGraceFor(input.source, config) : config.staleGraceMs;
  if (graceMs === 0) return recover(state, newFault(reason, now), now, config);
  return {
    state: {
      name: 'suspect',
      since: now,
      history: state.history,
      failures: state.failures,
      deadline: now + graceMs,
      ...newFault(reason, now),
    },
    actions: [],
  };
}

function fromSuspect(state: In<'suspect'>, input: MachineInput, now: number, config: MachineConfig): Step {
  switch (input.type) {
    case 'fresh':
      return toOk(state, now, [{ type: 'stale-cleared' }]);
    case 'hung':
      return recover(state, { ...state, reason: 'hung' }, now, config);
    case 'driver-exited':
      return recover(state, { ...state, reason: 'crashed' }, now, config);
    case 'restart-requested':
      return requested(state, input.reason, now, config);
    case 'stale': {
      // Seen through upsd first, now the driver says so itself: its word shortens the wait (to the blip filter for
      // its DATASTALE, to nothing for its log).
      if (input.source === 'upsd') return stay(state);
      const deadline = Math.min(state.deadline, now + staleGraceFor(input.source, config));
      if (deadline <= now) return recover(state, { ...state, reason: 'stale' }, now, config);
      return deadline === state.deadline ? stay(state) : stay({ ...state, reason: 'stale', deadline });
    }
    case 'tick':
      return now >= state.deadline ? recover(state, state, now, config) : stay(state);
    default:
      return stay(state);
  }
}

function fromRecovering(
  state: In<'recovering'>,
  input: MachineInput,
  now: number,
  config: MachineConfig,
): Step {
  switch (input.type) {
    case 'recovery-succeeded':
      return recovered(state, now);
    case 'recovery-failed': {
      const failures = [...recentRestarts(state.failures, now, config), now];
      const open = circuitOpen({ restarts: state.history, failures }, now, config);
      const retryInMs = open ? config.failedRetryMs : recoveryDelay(state.attempt, config);
      const fault = { faultAt: state.faultAt, reason: state.reason, attempt: state.attempt };
      const next: MachineState = {
        ...fault,
        name: open ? 'failed' : 'backoff',
        since: now,
        history: state.history,
        failures,
        until: now + retryInMs,
        lastError: input.error,
      };
      return {
        state: next,
        actions: [
          {
            type: 'recovery-failed',
            ...fault,
            error: input.error,
            retryInMs,
            circuitOpen: open !== undefined,
            circuitReason: open ?? null,
          },
        ],
      };
    }
    default:
      // The ladder owns the driver while it runs: exits, PING misses and further restart requests join it.
      return stay(state);
  }
}

function fromWaiting(
  state: In<'backoff' | 'failed'>,
  input: MachineInput,
  now: number,
  config: MachineConfig,
): Step {
  switch (input.type) {
    case 'fresh':
      // The driver left running by the last attempt came good on its own.
      return recovered(state, now);
    case 'restart-requested':
      return requested(state, input.reason, now, config);
    case 'tick':
      if (now < state.until) return stay(state);
      // The slow retry of an open circuit is the breaker's own probe: it must not be refused by the breaker.
      return recover(state, state, now, config, { bypassBreaker: state.name === 'failed' });
    default:
      return stay(state);
  }
}
