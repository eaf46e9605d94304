import { describe, expect, it } from 'vitest';
import {
  followRun,
  ownTestResult,
  readTestResult,
  SELF_TEST_LIMIT_MS,
  type SelfTestRun,
  startRun,
  type TestObservation,
} from '../../src/history/selfTest.js';
import { deferReason, nextWindow, scheduleRunnable, WINDOW_MS } from '../../src/history/selfTestSchedule.js';
import type { UpsSnapshot } from '../../src/supervisor/types.js';

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);

describe('reading ups.test.result', () => {
  it.each([
    ['Done and passed', 'passed'],
    ['done and passed', 'passed'],
    ['Done and warning', 'warning'],
    ['Done and error', 'failed'],
    ['Aborted', 'aborted'],
    ['In progress', 'running'],
    ['Test scheduled', 'running'],
    ['No test initiated', 'none'],
    ['OK', 'passed'],
    ['Battery Bad - Replace', 'failed'],
    ['Failed', 'failed'],
    ['Passed', 'passed'],
    ['12345', 'unknown'],
  ])('%s → %s', (text, reading) => {
    expect(readTestResult(text)).toBe(reading);
  });

  it('an empty or absent value says nothing', () => {
    expect(readTestResult(undefined)).toBeUndefined();
    expect(readTestResult('  ')).toBeUndefined();
  });
});

const obs = (result: string | undefined, status = 'OL', alarm?: string): TestObservation => ({
  result,
  status,
  alarm,
});

/** Feeds observations one second apart; returns the first finished step, or the run after the last. */
function follow(run: SelfTestRun, steps: TestObservation[]) {
  let current = run;
  for (const [i, o] of steps.entries()) {
    const step = followRun(current, o, run.startedAt + (i + 1) * 1000);
    if (step.done) return step;
    current = step.run;
  }
  return { done: false as const, run: current };
}

describe('following a test to its result', () => {
  it('ups.test.result: In progress, then Done and passed', () => {
    const run = startRun('quick', 'command', T0, 'Done and passed');
    // The old result stays until the UPS starts the test: not this test's result.
    const step = follow(run, [
      obs('Done and passed'),
      obs('In progress'),
      obs('In progress'),
      obs('Done and passed'),
    ]);
    expect(step).toEqual({ done: true, result: 'passed', detail: 'Done and passed' });
  });

  it('ups.test.result changed straight to a result (the running state fell between two polls)', () => {
    const run = startRun('quick', 'command', T0, 'No test initiated');
    expect(follow(run, [obs('No test initiated'), obs('Done and error')])).toEqual({
      done: true,
      result: 'failed',
      detail: 'Done and error',
    });
  });

  it('no ups.test.result (Megatec/Q1): CAL on, CAL off; a failure is the UPS alarm', () => {
    const run = startRun('deep', 'schedule', T0, undefined);
    expect(follow(run, [obs(undefined, 'OL'), obs(undefined, 'OL CAL'), obs(undefined, 'OL')])).toMatchObject(
      {
        done: true,
        result: 'passed',
      },
    );
    const failed = follow(run, [
      obs(undefined, 'OL CAL'),
      obs(undefined, 'OL ALARM', 'UPS selftest failed!'),
    ]);
    expect(failed).toEqual({ done: true, result: 'failed', detail: 'UPS selftest failed!' });
  });

  it('a Megatec test stopped with test.battery.stop: CAL off without an alarm is an abort, not a pass', () => {
    const run = { ...startRun('quick', 'command', T0, undefined), stopped: true };
    expect(follow(run, [obs(undefined, 'OL CAL'), obs(undefined, 'OL')])).toEqual({
      done: true,
      result: 'aborted',
      detail: 'stopped by test.battery.stop',
    });
  });

  it('no sign of a test before the time limit: unknown, and says what the UPS showed', () => {
    const run = startRun('quick', 'command', T0, 'No test initiated');
    expect(followRun(run, obs('No test initiated'), T0 + 1000).done).toBe(false);
    const late = followRun(run, obs('No test initiated'), T0 + SELF_TEST_LIMIT_MS.quick);
    expect(late).toEqual({
      done: true,
      result: 'unknown',
      detail: 'no result within 15 min (ups.test.result: No test initiated)',
    });
  });

  it('a test the UPS ran on its own: a changed, finished result; the first value is only a baseline', () => {
    expect(ownTestResult(undefined, 'Done and passed')).toBeUndefined();
    expect(ownTestResult('In progress', 'Done and warning')).toEqual({
      result: 'warning',
      detail: 'Done and warning',
    });
    expect(ownTestResult('Done and passed', 'Done and error')).toEqual({
      result: 'failed',
      detail: 'Done and error',
    });
    expect(ownTestResult('Done and passed', 'Done and passed')).toBeUndefined();
    expect(ownTestResult('Done and passed', 'In progress')).toBeUndefined();
  });
});

describe('the self-test schedule', () => {
  const local = (day: number, hour: number, minute = 0) => new Date(2026, 10, day, hour, minute).getTime();
  const settings = { days: 30, at: '03:00' };

  it('runs within the hour from the set time, counting the days from the last test', () => {
    const last = local(1, 3, 10);
    expect(nextWindow(settings, last, local(1, 0), local(2, 12))).toEqual({
      from: local(31, 3, 10),
      until: local(31, 4),
    });
  });

  it('with no test yet, the first window after the schedule first saw the UPS', () => {
    expect(nextWindow(settings, null, local(5, 12), local(5, 12))).toEqual({
      from: local(6, 3),
      until: local(6, 4),
    });
    // Seen first inside a window: due at once.
    expect(nextWindow(settings, null, local(5, 3, 20), local(5, 3, 20))).toEqual({
      from: local(5, 3, 20),
      until: local(5, 4),
    });
  });

  it('a window that passed without a test (agent down, or a test that waited all of it) gives way to the next', () => {
    const last = local(1, 3);
    const missed = nextWindow(settings, last, local(1, 0), local(31, 5));
    expect(missed).toEqual({ from: local(32, 3), until: local(32, 3) + WINDOW_MS });
  });

  it('runs only when on, allowed and with credentials', () => {
    const allowed = ['test.battery.start.quick'];
    expect(scheduleRunnable({ days: 30, type: 'quick' }, allowed, true)).toBe(true);
    expect(scheduleRunnable({ days: 0, type: 'quick' }, allowed, true)).toBe(false);
    expect(scheduleRunnable({ days: 30, type: 'deep' }, allowed, true)).toBe(false);
    expect(scheduleRunnable({ days: 30, type: 'quick' }, allowed, false)).toBe(false);
  });

  const snapshot = (status: string, charge: string | undefined, state = 'ok') =>
    ({
      vars: { 'ups.status': status, ...(charge === undefined ? {} : { 'battery.charge': charge }) },
      supervisor: { state, restarts: 0 },
    }) as Pick<UpsSnapshot, 'vars' | 'supervisor'>;

  it('never starts on battery, below the charge, with the charge unknown, during a recovery or a test', () => {
    expect(deferReason(snapshot('OL', '100'), 90, false)).toBeUndefined();
    expect(deferReason(snapshot('OB DISCHRG', '100'), 90, false)).toBe('on-battery');
    expect(deferReason(snapshot('OL CHRG', '89'), 90, false)).toBe('low-charge');
    expect(deferReason(snapshot('OL', undefined), 90, false)).toBe('charge-unknown');
    expect(deferReason(snapshot('OL', 'XX'), 90, false)).toBe('charge-unknown');
    expect(deferReason(snapshot('OL', '100', 'recovering'), 90, false)).toBe('recovering');
    expect(deferReason(snapshot('OL', '100', 'suspect'), 90, false)).toBe('recovering');
    expect(deferReason(snapshot('OL CAL', '100'), 90, true)).toBe('testing');
  });
});
