import type { CommandErrorCode } from '../api/commands.js';
import { SELF_TEST_INSTCMDS, SELF_TEST_TYPES, type SelfTestType } from '../api/commands.js';
import type { EventBus } from '../events.js';
import type { Extension } from '../extension.js';
import type { Logger } from '../logger.js';
import { NutClientError } from '../nut/errors.js';
import type { InstcmdResult } from '../nut/instcmdSession.js';
import { statusFlags } from '../nut/upsStatus.js';
import type { SupervisorPort } from '../supervisor/port.js';
import type { UpsSnapshot } from '../supervisor/types.js';
import {
  followRun,
  ownTestResult,
  type SelfTestRecord,
  type SelfTestRun,
  startRun,
  testObservation,
  testRunning,
} from './selfTest.js';
import {
  type DeferReason,
  deferReason,
  nextWindow,
  type ScheduleSettings,
  scheduleRunnable,
} from './selfTestSchedule.js';

export interface SelfTestDeps {
  supervisor: Pick<SupervisorPort, 'snapshot' | 'instcmd'>;
  bus: EventBus;
  logger: Logger;
  upsNames: readonly string[];
  /** MQTT_INSTCMD_ALLOW: a test starts only through an allowed instant command, whoever asks. */
  allowedInstcmds: readonly string[];
  /** NUT_USERNAME is set (instant commands need it). */
  hasCredentials: boolean;
  schedule: ScheduleSettings;
  /** The last finished test of a UPS (the history keeps it): the schedule counts from it. */
  lastSelfTest: (ups: string) => SelfTestRecord | null;
  /** How often the schedule and the time limit of a running test are looked at. */
  checkIntervalMs: number;
  now?: () => number;
}

export type SelfTestStart = { ok: true } | { ok: false; error: CommandErrorCode; detail: string };

/** What the history state shows of a UPS's tests besides the last result. */
export interface SelfTestView {
  supported: boolean;
  running: boolean;
  nextAt: number | null;
}

interface UpsTests {
  run?: SelfTestRun;
  /** The start command is on its way. */
  starting: boolean;
  /** The UPS showed a test running while the start command was on its way (the TRACKING wait can outlast that). */
  runningWhileStarting?: boolean;
  /** ups.test.result as last seen: a change while no test of ours runs is a test the UPS ran on its own. */
  lastResult?: string;
  firstSeenAt?: number;
  /** The window a scheduled test was already tried (or told deferred) in, and why it waits. */
  triedWindow?: number;
  deferred?: { window: number; reason: DeferReason };
  warnedUnsupported: boolean;
}

/**
 * Battery self-tests: started on request (the `self-test` MQTT command, a Home Assistant button, an allowed
 * test.battery.start.* instant command) or by the schedule, through the allowed instant command with TRACKING, then
 * followed through the UPS's data to a result (`self-test` event; the history keeps the last one). Tests the UPS
 * runs on its own are recorded when their result appears.
 */
export class SelfTestExtension implements Extension {
  readonly name = 'self-test';
  private readonly deps: SelfTestDeps;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly upses = new Map<string, UpsTests>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(deps: SelfTestDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ module: 'self-test' });
    this.now = deps.now ?? Date.now;
    for (const ups of deps.upsNames) this.upses.set(ups, { starting: false, warnedUnsupported: false });
  }

  async start(): Promise<void> {
    this.deps.bus.on('ups-updated', (e) => this.onUpdate(e.snapshot, e.at), this);
    this.timer = setInterval(() => this.check(), this.deps.checkIntervalMs);
    const { schedule, allowedInstcmds, hasCredentials } = this.deps;
    if (schedule.days > 0) {
      const command = SELF_TEST_INSTCMDS[schedule.type];
      if (!allowedInstcmds.includes(command))
        this.log.warn(`self-test schedule is off: ${command} is not in MQTT_INSTCMD_ALLOW`);
      else if (!hasCredentials) this.log.warn('self-test schedule is off: NUT_USERNAME is not set');
      else
        this.log.info(
          `self-test schedule: a ${schedule.type} test every ${schedule.days} days from ${schedule.at} (local time)`,
        );
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.deps.bus.removeOwner(this);
    clearInterval(this.timer);
  }

  view(ups: string, now = this.now()): SelfTestView {
    const snapshot = this.deps.supervisor.snapshot(ups);
    const t = this.upses.get(ups);
    const supported = SELF_TEST_TYPES.some((type) => snapshot?.commands.includes(SELF_TEST_INSTCMDS[type]));
    const nextAt =
      snapshot && t && this.scheduled(snapshot)
        ? nextWindow(this.deps.schedule, this.deps.lastSelfTest(ups)?.at ?? null, t.firstSeenAt ?? now, now)
            .from
        : null;
    return { supported, running: t?.run !== undefined || t?.starting === true, nextAt };
  }

  /** Starts a test if it may: the reply for the command that asked (the result follows as an event). */
  async startTest(ups: string, test: SelfTestType, origin: SelfTestRun['origin']): Promise<SelfTestStart> {
    const t = this.upses.get(ups);
    const snapshot = this.deps.supervisor.snapshot(ups);
    if (!t || !snapshot) return { ok: false, error: 'unknown-ups', detail: `no UPS ${ups}` };
    const refusal = this.refusal(snapshot, t, test);
    if (refusal) return refusal;
    const command = SELF_TEST_INSTCMDS[test];
    const baseline = snapshot.vars['ups.test.result'];
    t.starting = true;
    t.runningWhileStarting = false;
    let result: InstcmdResult | undefined;
    let thrown: string | undefined;
    try {
      result = await this.deps.supervisor.instcmd(ups, command);
    } catch (error) {
      thrown = error instanceof NutClientError ? error.code : String((error as Error).message ?? error);
    } finally {
      t.starting = false;
    }
    const at = this.now();
    if (result?.outcome === 'success' || result?.outcome === 'untracked') {
      if (this.stopped) return { ok: true };
      const run = startRun(test, origin, at, baseline);
      // Seen running before TRACKING answered: the next update may already be the test's end.
      t.run = t.runningWhileStarting ? { ...run, runningSeen: true } : run;
      t.runningWhileStarting = false;
      this.log.info({ ups, test, origin, command }, `${ups}: ${test} self-test started (${command})`);
      this.deps.bus.emit('self-test-started', { ups, test, origin, at });
      return { ok: true };
    }
    const failure = startFailure(result, thrown);
    this.log.warn(
      { ups, test, origin, command, detail: failure.detail },
      `${ups}: ${command} failed: ${failure.detail}`,
    );
    this.deps.bus.emit('self-test', {
      ups,
      test,
      result: 'not-started',
      detail: failure.detail,
      origin,
      startedAt: null,
      at,
    });
    return { ok: false, ...failure };
  }

  /** test.battery.stop ran on the UPS: a running test that then ends without a failure was aborted. */
  testStopped(ups: string): void {
    const t = this.upses.get(ups);
    if (t?.run) t.run = { ...t.run, stopped: true };
  }

  /** Why a test may not start now (the command path; the schedule defers for more reasons). */
  private refusal(snapshot: UpsSnapshot, t: UpsTests, test: SelfTestType): SelfTestStart | undefined {
    const command = SELF_TEST_INSTCMDS[test];
    if (!snapshot.commands.includes(command)) {
      const other = SELF_TEST_TYPES.find(
        (x) => x !== test && snapshot.commands.includes(SELF_TEST_INSTCMDS[x]),
      );
      return {
        ok: false,
        error: 'instcmd-not-supported',
        detail:
          `${snapshot.name} (driver ${snapshot.driver}) lists no ${command}: it cannot run a ${test} self-test` +
          (other ? ` (it can run a ${other} one)` : ''),
      };
    }
    if (!this.deps.allowedInstcmds.includes(command))
      return { ok: false, error: 'instcmd-not-allowed', detail: `add ${command} to MQTT_INSTCMD_ALLOW` };
    if (t.run || t.starting) return { ok: false, error: 'busy', detail: 'a self-test is running' };
    if (snapshot.supervisor.state !== 'ok')
      return {
        ok: false,
        error: 'self-test-refused',
        detail: `no fresh data from the driver (${snapshot.supervisor.state})`,
      };
    if (statusFlags(snapshot.vars['ups.status']).has('OB'))
      return { ok: false, error: 'self-test-refused', detail: 'the UPS is on battery' };
    return undefined;
  }

  private onUpdate(snapshot: UpsSnapshot, at: number): void {
    const t = this.upses.get(snapshot.name);
    if (!t || snapshot.supervisor.state !== 'ok') return;
    t.firstSeenAt ??= at;
    const obs = testObservation(snapshot.vars);
    const previous = t.lastResult;
    t.lastResult = obs.result;
    if (t.run) {
      this.follow(snapshot.name, t, at);
      return;
    }
    if (t.starting) {
      if (testRunning(obs)) t.runningWhileStarting = true;
      return;
    }
    const own = ownTestResult(previous, obs.result);
    if (own) {
      this.log.info({ ups: snapshot.name, ...own }, `${snapshot.name}: the UPS reports a self-test result`);
      this.deps.bus.emit('self-test', {
        ups: snapshot.name,
        test: null,
        ...own,
        origin: 'ups',
        startedAt: null,
        at,
      });
    }
  }

  private follow(ups: string, t: UpsTests, at: number): void {
    const run = t.run;
    const snapshot = this.deps.supervisor.snapshot(ups);
    if (!run || !snapshot) return;
    const step = followRun(run, testObservation(snapshot.vars), at);
    if (!step.done) {
      t.run = step.run;
      return;
    }
    t.run = undefined;
    const { result, detail } = step;
    const log = result === 'passed' ? this.log.info.bind(this.log) : this.log.warn.bind(this.log);
    log({ ups, test: run.test, result, detail }, `${ups}: ${run.test} self-test ${result}: ${detail}`);
    this.deps.bus.emit('self-test', {
      ups,
      test: run.test,
      result,
      detail,
      origin: run.origin,
      startedAt: run.startedAt,
      at,
    });
  }

  /** The time limit of running tests, and the schedule. */
  private check(): void {
    const now = this.now();
    for (const [ups, t] of this.upses) {
      if (t.run && now >= t.run.deadline) this.follow(ups, t, now);
      const snapshot = this.deps.supervisor.snapshot(ups);
      // Fresh data seen: the data may have stopped changing (no `ups-updated`) before the state became ok.
      if (snapshot?.supervisor.state === 'ok') t.firstSeenAt ??= now;
      if (snapshot && this.scheduled(snapshot)) this.checkSchedule(ups, t, snapshot, now);
    }
  }

  /** Whether the schedule applies to this UPS: on, allowed, and the UPS lists the command. */
  private scheduled(snapshot: UpsSnapshot): boolean {
    const { schedule, allowedInstcmds, hasCredentials } = this.deps;
    const command = SELF_TEST_INSTCMDS[schedule.type];
    if (!scheduleRunnable(schedule, allowedInstcmds, hasCredentials)) return false;
    if (snapshot.commands.includes(command)) return true;
    const t = this.upses.get(snapshot.name);
    if (t && !t.warnedUnsupported && snapshot.commands.length > 0) {
      t.warnedUnsupported = true;
      this.log.info(
        `${snapshot.name}: no scheduled self-test: its driver (${snapshot.driver}) lists no ${command}`,
      );
    }
    return false;
  }

  private checkSchedule(ups: string, t: UpsTests, snapshot: UpsSnapshot, now: number): void {
    const { schedule } = this.deps;
    if (t.firstSeenAt === undefined) return; // no fresh data seen yet
    const window = nextWindow(schedule, this.deps.lastSelfTest(ups)?.at ?? null, t.firstSeenAt, now);
    if (now < window.from || now >= window.until || t.triedWindow === window.from) return;
    if (t.run || t.starting) return;
    const reason = deferReason(snapshot, schedule.minCharge, testRunning(testObservation(snapshot.vars)));
    if (reason) {
      if (t.deferred?.window !== window.from || t.deferred.reason !== reason) {
        t.deferred = { window: window.from, reason };
        this.log.info({ ups, reason }, `${ups}: the scheduled self-test waits (${reason})`);
        this.deps.bus.emit('self-test-deferred', { ups, test: schedule.type, reason, at: now });
      }
      return;
    }
    t.triedWindow = window.from;
    void this.startTest(ups, schedule.type, 'schedule');
  }
}

function startFailure(
  result: InstcmdResult | undefined,
  thrown: string | undefined,
): { error: CommandErrorCode; detail: string } {
  switch (result?.outcome) {
    case 'failed':
      return { error: 'instcmd-failed', detail: result.code };
    case 'timeout':
      return {
        error: 'instcmd-timeout',
        detail: `still PENDING after ${Math.round(result.waitedMs / 1000)} s: whether the test started is unknown (a result the UPS reports later is still recorded)`,
      };
    case 'tracking-refused':
      return { error: 'instcmd-failed', detail: `SET TRACKING refused: ${result.code}` };
    default:
      return { error: 'instcmd-failed', detail: (thrown ?? 'unknown error').slice(0, 200) };
  }
}
