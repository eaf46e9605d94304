import { describe, expect, it } from 'vitest';
import { circuitOpen, recoveryDelay } from '../../src/supervisor/recoveryPolicy.js';
import {
  initialState,
  type MachineAction,
  type MachineConfig,
  type MachineInput,
  type MachineState,
  nextDeadline,
  step,
} from '../../src/supervisor/upsStateMachine.js';

const config: MachineConfig = {
  staleGraceMs: 5000,
  driverStaleGraceMs: 250,
  startTimeoutMs: 30_000,
  backoffInitialMs: 2000,
  backoffMaxMs: 16_000,
  breakerRestarts: 3,
  breakerWindowMs: 60_000,
  breakerStormRestarts: 6,
  failedRetryMs: 120_000,
};

/** Feeds inputs at given times; returns the final state and every action, in order. */
function run(start: MachineState, inputs: Array<[number, MachineInput]>, cfg = config) {
  let state = start;
  const actions = [];
  for (const [at, input] of inputs) {
    const result = step(state, input, at, cfg);
    state = result.state;
    actions.push(...result.actions.map((a) => ({ at, ...a })));
  }
  return { state, actions };
}

const okAt = (t: number): MachineState => ({ name: 'ok', since: t, history: [], failures: [] });

describe('recovery policy', () => {
  it('doubles the backoff after each failure up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => recoveryDelay(n, config))).toEqual([
      2000, 4000, 8000, 16_000, 16_000, 16_000,
    ]);
  });
  it('opens the circuit at N failures inside the window only', () => {
    const failures = (f: number[]) => ({ restarts: f, failures: f });
    expect(circuitOpen(failures([0, 10_000]), 20_000, config)).toBeUndefined();
    expect(circuitOpen(failures([0, 10_000, 20_000]), 30_000, config)).toBe('failures');
    expect(circuitOpen(failures([0, 10_000, 20_000]), 60_001, config)).toBeUndefined();
  });
  it('does not count successful restarts against the breaker, only against the storm guard', () => {
    const restarts = [0, 1000, 2000, 3000, 4000];
    expect(circuitOpen({ restarts, failures: [] }, 5000, config)).toBeUndefined();
    expect(circuitOpen({ restarts: [...restarts, 5000], failures: [] }, 5000, config)).toBe('storm');
    expect(circuitOpen({ restarts: [...restarts, 5000], failures: [] }, 60_001, config)).toBeUndefined();
    // Both at once: the failures are the better reason.
    expect(circuitOpen({ restarts: [...restarts, 5000], failures: [1, 2, 3] }, 5000, config)).toBe(
      'failures',
    );
  });
});

describe('starting', () => {
  it('becomes ok on the first fresh data and reports how long it took', () => {
    const { state, actions } = run(initialState(1000), [[3500, { type: 'fresh' }]]);
    expect(state.name).toBe('ok');
    expect(actions).toEqual([{ at: 3500, type: 'ready', startupMs: 2500 }]);
  });
  it('tolerates stale and not-connected while the driver starts', () => {
    const { state, actions } = run(initialState(0), [
      [1000, { type: 'not-connected' }],
      [2000, { type: 'stale', source: 'upsd' }],
      [3000, { type: 'tick' }],
    ]);
    expect(state.name).toBe('starting');
    expect(actions).toEqual([]);
  });
  it('restarts a driver that never produces data within the start timeout', () => {
    const { state, actions } = run(initialState(0), [
      [29_999, { type: 'tick' }],
      [30_000, { type: 'tick' }],
    ]);
    expect(state).toMatchObject({ name: 'recovering', reason: 'no-data', attempt: 1 });
    expect(actions).toEqual([{ at: 30_000, type: 'recover', reason: 'no-data', attempt: 1 }]);
  });
  it('recovers at once when the driver exits or hangs during start', () => {
    expect(run(initialState(0), [[500, { type: 'driver-exited' }]]).state).toMatchObject({
      reason: 'crashed',
    });
    expect(run(initialState(0), [[500, { type: 'hung' }]]).state).toMatchObject({ reason: 'hung' });
  });
});

describe('ok', () => {
  it('restarts a hung driver immediately', () => {
    const { state, actions } = run(okAt(0), [[10_000, { type: 'hung' }]]);
    expect(state).toMatchObject({ name: 'recovering', reason: 'hung', attempt: 1, faultAt: 10_000 });
    expect(actions).toEqual([{ at: 10_000, type: 'recover', reason: 'hung', attempt: 1 }]);
  });
  it('restarts a crashed driver immediately', () => {
    expect(run(okAt(0), [[1, { type: 'driver-exited' }]]).actions[0]).toMatchObject({
      type: 'recover',
      reason: 'crashed',
    });
  });
  it('waits out the grace period before restarting a driver that upsd says is stale', () => {
    const { state, actions } = run(okAt(0), [
      [10_000, { type: 'stale', source: 'upsd' }],
      [12_000, { type: 'tick' }],
      [14_999, { type: 'tick' }],
    ]);
    expect(state).toMatchObject({ name: 'suspect', reason: 'stale', faultAt: 10_000 });
    expect(actions).toEqual([]);
    const after = run(state, [[15_000, { type: 'tick' }]]);
    expect(after.state).toMatchObject({ name: 'recovering', reason: 'stale', attempt: 1 });
  });
  it('restarts a driver that flags its own data stale after the short blip filter, not the grace', () => {
    const { state, actions } = run(okAt(0), [
      [10_000, { type: 'stale', source: 'driver' }],
      [10_249, { type: 'tick' }],
    ]);
    expect(state).toMatchObject({ name: 'suspect', reason: 'stale', deadline: 10_250 });
    expect(actions).toEqual([]);
    expect(nextDeadline(state, config)).toBe(10_250);
    const after = run(state, [[10_250, { type: 'tick' }]]);
    expect(after.state).toMatchObject({ name: 'recovering', reason: 'stale', attempt: 1, faultAt: 10_000 });
  });
  it('does not restart on a DATASTALE that DATAOK follows within the blip filter, however often', () => {
    const inputs: Array<[number, MachineInput]> = [];
    for (let i = 0; i < 20; i++) {
      inputs.push([i * 1000, { type: 'stale', source: 'driver' }]);
      inputs.push([i * 1000 + 40, { type: 'fresh' }]);
      inputs.push([i * 1000 + 300, { type: 'tick' }]);
    }
    const { state, actions } = run(okAt(0), inputs);
    expect(state.name).toBe('ok');
    expect(new Set(actions.map((a) => a.type))).toEqual(new Set(['stale-cleared']));
    expect(state.history).toEqual([]);
  });
  it('shortens the grace of a upsd-seen staleness once the driver flags it too', () => {
    const { state } = run(okAt(0), [
      [10_000, { type: 'not-connected' }],
      [11_000, { type: 'stale', source: 'driver' }],
      [11_100, { type: 'stale', source: 'upsd' }],
    ]);
    expect(state).toMatchObject({ name: 'suspect', reason: 'stale', faultAt: 10_000, deadline: 11_250 });
    expect(run(state, [[11_250, { type: 'tick' }]]).state).toMatchObject({
      name: 'recovering',
      reason: 'stale',
    });
  });
  it("restarts at once on the driver's comm-lost log line: no grace, no blip filter", () => {
    const { state, actions } = run(okAt(0), [[10_000, { type: 'stale', source: 'driver-log' }]]);
    expect(state).toMatchObject({ name: 'recovering', reason: 'stale', attempt: 1, faultAt: 10_000 });
    expect(actions).toEqual([{ type: 'recover', reason: 'stale', attempt: 1, at: 10_000 }]);
  });
  it('ends the grace of a upsd-seen staleness at once when the driver logs that it lost the UPS', () => {
    const { state } = run(okAt(0), [
      [10_000, { type: 'stale', source: 'upsd' }],
      [11_000, { type: 'stale', source: 'driver-log' }],
    ]);
    expect(state).toMatchObject({ name: 'recovering', reason: 'stale', faultAt: 10_000 });
  });
  it('restarts at once on the driver flag when the grace period is 0', () => {
    const cfg = { ...config, staleGraceMs: 0, driverStaleGraceMs: 0 };
    expect(run(okAt(0), [[1, { type: 'stale', source: 'driver' }]], cfg).state.name).toBe('recovering');
  });
  it('restarts a stale driver at once when the grace period is 0', () => {
    const { state } = run(okAt(0), [[1, { type: 'stale', source: 'upsd' }]], { ...config, staleGraceMs: 0 });
    expect(state).toMatchObject({ name: 'recovering', reason: 'stale' });
  });
  it('treats DRIVER-NOT-CONNECTED as suspect, with its own reason', () => {
    expect(run(okAt(0), [[1, { type: 'not-connected' }]]).state).toMatchObject({
      name: 'suspect',
      reason: 'not-connected',
    });
  });
  it('ignores fresh data and ticks', () => {
    const { state, actions } = run(okAt(0), [
      [1, { type: 'fresh' }],
      [99_999, { type: 'tick' }],
    ]);
    expect(state.name).toBe('ok');
    expect(actions).toEqual([]);
  });
});

describe('suspect', () => {
  const suspect = run(okAt(0), [[1000, { type: 'stale', source: 'upsd' }]]).state;
  it('goes back to ok without a restart when data turns fresh within the grace period', () => {
    const { state, actions } = run(suspect, [[3000, { type: 'fresh' }]]);
    expect(state.name).toBe('ok');
    expect(actions).toEqual([{ at: 3000, type: 'stale-cleared' }]);
  });
  it('does not wait out the grace period when the driver hangs or exits meanwhile', () => {
    expect(run(suspect, [[2000, { type: 'hung' }]]).state).toMatchObject({
      name: 'recovering',
      reason: 'hung',
      faultAt: 1000,
    });
    expect(run(suspect, [[2000, { type: 'driver-exited' }]]).state).toMatchObject({ reason: 'crashed' });
  });
});

describe('recovering', () => {
  const recovering = run(okAt(0), [[10_000, { type: 'hung' }]]).state;
  it('reports the time from fault to fresh data on success', () => {
    const { state, actions } = run(recovering, [[13_500, { type: 'recovery-succeeded' }]]);
    expect(state.name).toBe('ok');
    expect(actions).toEqual([
      { at: 13_500, type: 'recovered', reason: 'hung', attempt: 1, durationMs: 3500 },
    ]);
  });
  it('ignores exits, hangs and restart requests while the ladder runs (they join it)', () => {
    const { state, actions } = run(recovering, [
      [10_100, { type: 'driver-exited' }],
      [10_200, { type: 'hung' }],
      [10_300, { type: 'restart-requested', reason: 'manual' }],
      [10_400, { type: 'stale', source: 'upsd' }],
    ]);
    expect(state).toBe(recovering);
    expect(actions).toEqual([]);
  });
  it('backs off exponentially between failed attempts, then opens the circuit', () => {
    const { state, actions } = run(recovering, [
      [11_000, { type: 'recovery-failed', error: 'exited with code 1' }],
      [12_999, { type: 'tick' }],
      [13_000, { type: 'tick' }],
      [14_000, { type: 'recovery-failed', error: 'exited with code 1' }],
      [18_000, { type: 'tick' }],
      [19_000, { type: 'recovery-failed', error: 'exited with code 1' }],
    ]);
    expect(
      actions.map((a) => [
        a.at,
        a.type,
        'attempt' in a ? a.attempt : undefined,
        'retryInMs' in a ? a.retryInMs : undefined,
      ]),
    ).toEqual([
      [11_000, 'recovery-failed', 1, 2000],
      [13_000, 'recover', 2, undefined],
      [14_000, 'recovery-failed', 2, 4000],
      [18_000, 'recover', 3, undefined],
      [19_000, 'recovery-failed', 3, 120_000],
    ]);
    expect(state).toMatchObject({ name: 'failed', until: 139_000, lastError: 'exited with code 1' });
    expect(actions.at(-1)).toMatchObject({ circuitOpen: true, circuitReason: 'failures' });
    expect(actions[0]).toMatchObject({ circuitOpen: false, circuitReason: null });
  });
});

describe('failed and backoff', () => {
  const failedRun = run(okAt(0), [
    [1000, { type: 'driver-exited' }],
    [1100, { type: 'recovery-failed', error: 'x' }],
    [3100, { type: 'tick' }],
    [3200, { type: 'recovery-failed', error: 'x' }],
    [7200, { type: 'tick' }],
    [7300, { type: 'recovery-failed', error: 'x' }],
  ]);
  it('retries slowly once the circuit is open, and that retry is not refused by the breaker', () => {
    expect(failedRun.state.name).toBe('failed');
    expect(run(failedRun.state, [[50_000, { type: 'tick' }]]).actions).toEqual([]);
    const retry = run(failedRun.state, [[127_300, { type: 'tick' }]]);
    expect(retry.actions).toEqual([{ at: 127_300, type: 'recover', reason: 'crashed', attempt: 4 }]);
  });
  it('goes to ok when data comes back on its own', () => {
    const { state, actions } = run(failedRun.state, [[20_000, { type: 'fresh' }]]);
    expect(state.name).toBe('ok');
    expect(actions[0]).toMatchObject({ type: 'recovered', durationMs: 19_000 });
  });
  it('never opens the circuit for faults whose recoveries all succeed (six in five minutes)', () => {
    const cfg = { ...config, breakerRestarts: 5, breakerWindowMs: 300_000, breakerStormRestarts: 30 };
    let state: MachineState = okAt(0);
    const types: string[] = [];
    for (let i = 0; i < 6; i++) {
      const t = i * 45_000;
      const fault = step(state, { type: i % 2 ? 'hung' : 'driver-exited' }, t + 1, cfg);
      types.push(...fault.actions.map((a) => a.type));
      const back = step(fault.state, { type: 'recovery-succeeded' }, t + 3000, cfg);
      types.push(...back.actions.map((a) => a.type));
      state = back.state;
    }
    expect(types).toEqual(Array(6).fill(['recover', 'recovered']).flat());
    expect(state).toMatchObject({ name: 'ok', failures: [] });
    expect(state.history).toHaveLength(6);
  });
  it('clears the failures once a recovery brings fresh data back', () => {
    const { state } = run(okAt(0), [
      [1000, { type: 'driver-exited' }],
      [1100, { type: 'recovery-failed', error: 'x' }],
      [3100, { type: 'tick' }],
      [3200, { type: 'recovery-failed', error: 'x' }],
      [7200, { type: 'tick' }],
      [7300, { type: 'recovery-succeeded' }],
      [8000, { type: 'driver-exited' }],
    ]);
    expect(state).toMatchObject({ name: 'recovering', failures: [], attempt: 1 });
  });
  it('opens the circuit on a storm of restarts even though each recovery succeeds, and says so', () => {
    let state: MachineState = okAt(0);
    const actions: MachineAction[] = [];
    for (let i = 0; i < 7; i++) {
      const t = i * 5000;
      const hang = step(state, { type: 'hung' }, t + 1, config);
      actions.push(...hang.actions);
      state = hang.state;
      if (state.name === 'recovering')
        state = step(state, { type: 'recovery-succeeded' }, t + 2, config).state;
    }
    expect(actions.map((a) => a.type)).toEqual([...Array(6).fill('recover'), 'recovery-failed']);
    expect(actions.at(-1)).toMatchObject({ circuitOpen: true, circuitReason: 'storm' });
    expect(state).toMatchObject({
      name: 'failed',
      lastError: 'circuit breaker open: restart storm, 6 restarts within 60 s',
    });
  });
  it('lets a manual restart through an open circuit', () => {
    const { state, actions } = run(failedRun.state, [
      [8000, { type: 'restart-requested', reason: 'manual' }],
    ]);
    expect(state).toMatchObject({ name: 'recovering', reason: 'manual' });
    expect(actions[0]).toMatchObject({ type: 'recover', reason: 'manual' });
  });
});

describe('requested restarts and stop', () => {
  it('does not count restarts after an upsd restart against the breaker', () => {
    let state: MachineState = okAt(0);
    for (let i = 0; i < 5; i++) {
      state = step(state, { type: 'restart-requested', reason: 'upsd-restarted' }, i * 100, config).state;
      state = step(state, { type: 'recovery-succeeded' }, i * 100 + 50, config).state;
    }
    expect(state.history).toEqual([]);
    expect(step(state, { type: 'hung' }, 1000, config).state.name).toBe('recovering');
  });
  it('stops from any state and then ignores everything', () => {
    const stopped = step(okAt(0), { type: 'stop' }, 5, config).state;
    expect(stopped.name).toBe('stopped');
    expect(step(stopped, { type: 'driver-exited' }, 6, config)).toEqual({ state: stopped, actions: [] });
  });
});

describe('nextDeadline', () => {
  it('is the end of the start timeout, grace period or backoff, and nothing while ok or recovering', () => {
    expect(nextDeadline(initialState(1000), config)).toBe(31_000);
    const suspect = step(okAt(0), { type: 'stale', source: 'upsd' }, 2000, config).state;
    expect(nextDeadline(suspect, config)).toBe(7000);
    const recovering = step(suspect, { type: 'tick' }, 7000, config).state;
    expect(nextDeadline(recovering, config)).toBeUndefined();
    const backoff = step(recovering, { type: 'recovery-failed', error: 'x' }, 8000, config).state;
    expect(nextDeadline(backoff, config)).toBe(10_000);
    expect(nextDeadline(okAt(0), config)).toBeUndefined();
  });
});
