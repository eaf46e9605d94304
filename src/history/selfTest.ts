/**
 * Battery self-tests: what a UPS says about one, and following one to its end. Pure.
 *
 * After the driver ran the start command (TRACKING said SUCCESS), the test is followed through the UPS's data:
 * `ups.test.result` where the UPS reports it (usbhid-ups: `In progress`, then `Done and passed` / `Done and
 * warning` / `Done and error` / `Aborted`), else the `CAL` status flag (Megatec/Q1 UPSes: blazer, nutdrv_qx set it
 * while their "test in progress" bit is on, and report a failed test as the alarm `UPS selftest failed!`).
 */
import type { SelfTestType } from '../api/commands.js';
import { statusFlags } from '../nut/upsStatus.js';

/** How a finished test went: the Self-test result sensor's options. */
export const SELF_TEST_RESULTS = ['passed', 'warning', 'failed', 'aborted', 'unknown'] as const;
export type SelfTestResult = (typeof SELF_TEST_RESULTS)[number];

/** Who started a test: an MQTT command or Home Assistant button, the schedule, or the UPS on its own. */
export type SelfTestOrigin = 'command' | 'schedule' | 'ups';

/** A finished test, as kept in the history file and shown in the state. */
export interface SelfTestRecord {
  /** null for a test the UPS ran on its own (its kind is not known). */
  test: SelfTestType | null;
  result: SelfTestResult;
  /** The UPS's own words (`Done and passed`, `UPS selftest failed!`) or why the result is `unknown`. */
  detail: string;
  origin: SelfTestOrigin;
  /** When the start command succeeded; null for a test the UPS ran on its own. */
  startedAt: number | null;
  /** When the result was known. */
  at: number;
}

/** What ups.test.result says, in one word; undefined for an empty value. */
export type TestReading = SelfTestResult | 'running' | 'none';

/**
 * NUT drivers word results differently (usbhid-ups and the SNMP MIBs `Done and passed`, apcsmart `OK`, others
 * `Passed`/`Failed`). Most specific first: `Done and error` is a failure although it starts like a success.
 */
const READINGS: ReadonlyArray<readonly [RegExp, TestReading]> = [
  [/in progress|running|scheduled|pending|testing/i, 'running'],
  [/no test|not initiated|^none$|^idle$/i, 'none'],
  [/abort|cancel|stopped/i, 'aborted'],
  [/warn/i, 'warning'],
  [/error|fail|bad|replace|\bng\b/i, 'failed'],
  [/pass|\bok\b|good|success/i, 'passed'],
];

export function readTestResult(text: string | undefined): TestReading | undefined {
  const trimmed = text?.trim() ?? '';
  if (trimmed === '') return undefined;
  return READINGS.find(([pattern]) => pattern.test(trimmed))?.[1] ?? 'unknown';
}

/** What of a UPS's data tells about a test. */
export interface TestObservation {
  /** ups.test.result; undefined where the UPS does not report it. */
  result: string | undefined;
  /** ups.status. */
  status: string | undefined;
  /** ups.alarm. */
  alarm: string | undefined;
}

export function testObservation(vars: Readonly<Record<string, string>>): TestObservation {
  return { result: vars['ups.test.result'], status: vars['ups.status'], alarm: vars['ups.alarm'] };
}

/** Whether the UPS says a test is running: the CAL flag, or its test result says so. */
export function testRunning(obs: TestObservation): boolean {
  return statusFlags(obs.status).has('CAL') || readTestResult(obs.result) === 'running';
}

/** A test the agent started and follows. */
export interface SelfTestRun {
  test: SelfTestType;
  origin: Exclude<SelfTestOrigin, 'ups'>;
  startedAt: number;
  /** ups.test.result before the command: a result equal to it is the last test's, not this one's. */
  baseline: string | undefined;
  /** The UPS has shown the test running (CAL, or a running result). */
  runningSeen: boolean;
  /** test.battery.stop ran while it was running: an end without a failure is an abort, not a pass. */
  stopped: boolean;
  /** After this, the result is `unknown`. */
  deadline: number;
}

/** How long a test may take before its result is `unknown`: a deep test runs the battery down, which takes hours. */
export const SELF_TEST_LIMIT_MS: Readonly<Record<SelfTestType, number>> = {
  quick: 15 * 60_000,
  deep: 4 * 3_600_000,
};

export function startRun(
  test: SelfTestType,
  origin: SelfTestRun['origin'],
  startedAt: number,
  baseline: string | undefined,
): SelfTestRun {
  return {
    test,
    origin,
    startedAt,
    baseline,
    runningSeen: false,
    stopped: false,
    deadline: startedAt + SELF_TEST_LIMIT_MS[test],
  };
}

export type FollowStep =
  | { done: false; run: SelfTestRun }
  | { done: true; result: SelfTestResult; detail: string };

const ALARM_FAILED = /self.?test.*fail|fail/i;
const NO_RESULT_PASSED =
  'the test ended and the UPS reported no failure (it has no ups.test.result; a failure would be its alarm)';

/** The next step of a followed test, given what the UPS says now. */
export function followRun(run: SelfTestRun, obs: TestObservation, now: number): FollowStep {
  const running = testRunning(obs);
  const next = running && !run.runningSeen ? { ...run, runningSeen: true } : run;
  const reading = readTestResult(obs.result);
  if (!running && obs.result !== undefined && reading !== 'none' && reading !== undefined) {
    // A result that differs from the one before the command, or any result once the test was seen running.
    if (next.runningSeen || obs.result !== run.baseline)
      return { done: true, result: reading === 'running' ? 'unknown' : reading, detail: obs.result.trim() };
  }
  if (!running && obs.result === undefined && next.runningSeen) {
    const alarm = obs.alarm?.trim();
    if (alarm && ALARM_FAILED.test(alarm)) return { done: true, result: 'failed', detail: alarm };
    if (run.stopped) return { done: true, result: 'aborted', detail: 'stopped by test.battery.stop' };
    return { done: true, result: 'passed', detail: NO_RESULT_PASSED };
  }
  if (now >= run.deadline) {
    const minutes = Math.round((run.deadline - run.startedAt) / 60_000);
    const said =
      obs.result === undefined ? 'it reports no ups.test.result' : `ups.test.result: ${obs.result.trim()}`;
    return { done: true, result: 'unknown', detail: `no result within ${minutes} min (${said})` };
  }
  return { done: false, run: next };
}

/**
 * A result the UPS reached on its own (no test of the agent's running): its ups.test.result changed to a finished
 * one. The first value the agent sees is only the baseline: when that test ran is not known.
 */
export function ownTestResult(
  previous: string | undefined,
  current: string | undefined,
): { result: SelfTestResult; detail: string } | undefined {
  if (current === undefined || previous === undefined || current.trim() === previous.trim()) return undefined;
  const reading = readTestResult(current);
  if (reading === undefined || reading === 'running' || reading === 'none') return undefined;
  return { result: reading, detail: current.trim() };
}
