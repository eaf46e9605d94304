import {
  type CommandErrorCode,
  type CommandResponse,
  SELF_TEST_STOP,
  type SelfTestType,
  selfTestTypeOf,
  type Transaction,
} from '../api/commands.js';
import { RESPONSE_SUFFIX, type Topics } from '../api/topics.js';
import type { EventBus } from '../events.js';
import type { SelfTestExtension } from '../history/selfTestExtension.js';
import type { Logger } from '../logger.js';
import { NutClientError } from '../nut/errors.js';
import type { SupervisorPort } from '../supervisor/port.js';
import {
  type CommandOutcome,
  classifyBridgeCommand,
  classifyCommand,
  commandResponse,
  instcmdOutcome,
  parseCommand,
} from './commands.js';
import { LogLimiter } from './logLimiter.js';
import type { CommandTimeouts } from './timings.js';

/** The part of the supervisor's port that commands use (unit tests pass a fake). */
export type CommandSupervisor = Pick<SupervisorPort, 'snapshot' | 'restartUps' | 'restartUpsd' | 'instcmd'>;

/** `restartTimeoutMs` and the like: how long a caller waits before the answer is `timeout` (the work goes on). */
export interface CommandHandlerDeps extends CommandTimeouts {
  supervisor: CommandSupervisor;
  bus: EventBus;
  topics: Topics;
  logger: Logger;
  /** MQTT_INSTCMD_ALLOW. */
  allowedInstcmds: readonly string[];
  /** MQTT_COMMAND_COOLDOWN: after a commanded restart completes, further restarts of that target are refused this long. */
  cooldownMs: number;
  /** Starts battery self-tests (`self-test`, and the test.battery.start.* instant commands, so they are followed). */
  selfTest?: Pick<SelfTestExtension, 'startTest' | 'testStopped'>;
  /** Publishes one response (not retained). */
  respond: (topic: string, response: CommandResponse) => void;
  now?: () => number;
}

type Kind = 'restart' | 'instcmd' | 'restart-upsd';

interface Pending {
  kind: Kind;
  responseTopic: string;
  command: string;
  transaction?: Transaction;
  receivedAt: number;
  timer?: NodeJS.Timeout;
  answered: boolean;
}

/** A restart in progress; later requests for the same target join it instead of starting another. */
interface Job {
  waiters: Set<Pending>;
}

/** Callers that may wait on one restart; a flood beyond this is answered `busy` rather than held in memory. */
const MAX_WAITERS = 10_000;
/** Bad input is logged at most this often per kind (error code): a flood of junk cannot flood the log too. */
const WARNINGS_PER_MINUTE = 5;

const STOP_ERRORS: Record<Kind, CommandErrorCode> = {
  restart: 'recovery-failed',
  instcmd: 'instcmd-failed',
  'restart-upsd': 'upsd-restart-failed',
};

/**
 * Performs commands received on `<base>/<ups>/command` and `<base>/bridge/command` and answers each exactly once
 * on `<topic>/response`. Validation is commands.ts's (pure); this adds what needs state: restarts coalesced per
 * target (joining a running recovery, then a cooldown), one instant command per UPS at a time, time limits, and
 * warn logs for bad input that a flood cannot turn into a log flood. Never throws out of `handle`.
 */
export class CommandHandler {
  private readonly deps: CommandHandlerDeps;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly limiter = new LogLimiter({ windowMs: 60_000, maxPerWindow: WARNINGS_PER_MINUTE });
  private readonly jobs = new Map<string, Job>();
  private readonly cooldownUntil = new Map<string, number>();
  private readonly instcmds = new Map<string, Pending>();
  private stopped = false;

  constructor(deps: CommandHandlerDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ module: 'mqtt-commands' });
    this.now = deps.now ?? Date.now;
  }

  /** One received message on a command topic. */
  handle(topic: string, payload: Buffer, opts: { retained: boolean }): void {
    if (this.stopped) return;
    const receivedAt = this.now();
    try {
      this.dispatch(topic, payload, opts, receivedAt);
    } catch (error) {
      this.log.error({ err: error, topic }, 'MQTT command failed unexpectedly');
      this.answer(
        {
          kind: 'restart',
          responseTopic: `${topic}${RESPONSE_SUFFIX}`,
          command: '',
          receivedAt,
          answered: false,
        },
        { status: 'error', error: 'internal-error' },
        { echoCommand: false },
      );
    }
  }

  /** Answers every command still waiting (`agent stopping`) and ignores new ones. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    const pending = [
      ...this.instcmds.values(),
      ...[...this.jobs.values()].flatMap((job) => [...job.waiters]),
    ];
    this.jobs.clear();
    this.instcmds.clear();
    for (const p of pending)
      this.answer(p, { status: 'error', error: STOP_ERRORS[p.kind], detail: 'agent stopping' });
  }

  private dispatch(topic: string, payload: Buffer, opts: { retained: boolean }, receivedAt: number): void {
    const { topics } = this.deps;
    const responseTopic = `${topic}${RESPONSE_SUFFIX}`;
    if (opts.retained) {
      // A retained command would run again on every start of the agent: never act on one.
      if (payload.length > 0)
        this.warn(
          'retained',
          { topic },
          `ignoring a retained message on ${topic}: commands must not be retained`,
        );
      return;
    }
    const parsed = parseCommand(payload);
    const base = { responseTopic, receivedAt, answered: false };
    if (!parsed.ok) {
      const request: Pending = { ...base, kind: 'restart', command: '', transaction: parsed.transaction };
      this.refuse(request, parsed.error, topic, { bytes: payload.length }, false);
      return;
    }
    const { command, transaction } = parsed;
    const target = topics.parseCommandTopic(topic);
    if (target?.kind === 'bridge') {
      const request: Pending = { ...base, kind: 'restart-upsd', command, transaction };
      const cls = classifyBridgeCommand(command);
      if (!cls.ok) {
        this.refuse(request, cls.error, topic);
        return;
      }
      this.coalesced('upsd', request, () => this.runUpsdRestart());
      return;
    }
    const ups = target?.ups;
    const request: Pending = { ...base, kind: 'restart', command, transaction };
    const snapshot = ups === undefined ? undefined : this.deps.supervisor.snapshot(ups);
    if (ups === undefined || snapshot === undefined) {
      this.refuse(request, 'unknown-ups', topic);
      return;
    }
    const cls = classifyCommand(
      command,
      { allowed: this.deps.allowedInstcmds, listed: snapshot.commands },
      { type: parsed.type },
    );
    if (!cls.ok) {
      this.refuse(request, cls.error, topic);
      return;
    }
    if (cls.kind === 'restart') {
      this.coalesced(`ups:${ups}`, request, () => this.runRestart(ups));
      return;
    }
    const test = cls.kind === 'self-test' ? cls.test : selfTestTypeOf(cls.command);
    if (test !== undefined && this.deps.selfTest) {
      this.runSerial(ups, { ...request, kind: 'instcmd' }, () => this.runSelfTest(ups, test));
      return;
    }
    if (cls.kind === 'self-test') {
      this.answer(request, { status: 'error', error: 'internal-error', detail: 'self-tests are not wired' });
      return;
    }
    this.runSerial(ups, { ...request, kind: 'instcmd' }, async () => {
      const outcome = await this.runInstcmd(ups, request.command);
      if (outcome.status === 'ok' && request.command === SELF_TEST_STOP) this.deps.selfTest?.testStopped(ups);
      return outcome;
    });
  }

  // --- restarts: one at a time per target, joined, then a cooldown ---------------------------------------------

  private coalesced(key: string, request: Pending, run: () => Promise<CommandOutcome>): void {
    const job = this.jobs.get(key);
    if (job) {
      if (job.waiters.size >= MAX_WAITERS) {
        this.refuse(request, 'busy', request.responseTopic);
        return;
      }
      this.log.debug(
        { target: key, transaction: request.transaction },
        `${request.command} joins the one running`,
      );
      this.wait(job, request);
      return;
    }
    const until = this.cooldownUntil.get(key) ?? 0;
    const now = this.now();
    if (now < until) {
      const seconds = Math.ceil((until - now) / 1000);
      this.warn(
        'cooldown',
        { target: key },
        `refused ${request.command} for ${key}: cooldown (${seconds} s left)`,
      );
      this.answer(request, { status: 'error', error: 'cooldown', detail: `retry in ${seconds} s` });
      return;
    }
    const started: Job = { waiters: new Set() };
    this.jobs.set(key, started);
    this.wait(started, request);
    this.log.info(
      { target: key, transaction: request.transaction },
      `MQTT command ${request.command} for ${key}`,
    );
    const settle = (outcome: CommandOutcome) => {
      if (this.jobs.get(key) !== started) return; // stop() answered them already
      this.jobs.delete(key);
      if (this.deps.cooldownMs > 0) this.cooldownUntil.set(key, this.now() + this.deps.cooldownMs);
      for (const waiter of started.waiters) this.answer(waiter, outcome);
    };
    run().then(settle, (error: unknown) => {
      this.log.error({ err: error, target: key }, `${request.command} failed unexpectedly`);
      settle({ status: 'error', error: 'internal-error' });
    });
  }

  private wait(job: Job, request: Pending): void {
    job.waiters.add(request);
    const ms = request.kind === 'restart-upsd' ? this.deps.upsdRestartTimeoutMs : this.deps.restartTimeoutMs;
    request.timer = setTimeout(() => {
      job.waiters.delete(request);
      this.answer(request, { status: 'error', error: 'timeout' });
    }, ms);
  }

  private async runRestart(ups: string): Promise<CommandOutcome> {
    const outcome = await this.deps.supervisor.restartUps(ups);
    if (outcome.ok) return { status: 'ok' };
    this.log.warn(
      { ups, error: outcome.error },
      `restart of ${ups} asked over MQTT failed: ${outcome.error}`,
    );
    return { status: 'error', error: 'recovery-failed', detail: outcome.error };
  }

  private async runUpsdRestart(): Promise<CommandOutcome> {
    // restartUpsd() resolves also when upsd did not come back; only this event says it answers again.
    let answered = false;
    const onRestarted = () => {
      answered = true;
    };
    this.deps.bus.on('upsd-restarted', onRestarted);
    try {
      await this.deps.supervisor.restartUpsd();
    } finally {
      this.deps.bus.off('upsd-restarted', onRestarted);
    }
    return answered
      ? { status: 'ok' }
      : { status: 'error', error: 'upsd-restart-failed', detail: 'upsd did not answer after the restart' };
  }

  // --- instant commands and self-tests: validated already; one at a time per UPS ----------------------------------

  private runSerial(ups: string, request: Pending, work: () => Promise<CommandOutcome>): void {
    if (this.instcmds.has(ups) || this.jobs.has(`ups:${ups}`)) {
      this.refuse(request, 'busy', request.responseTopic);
      return;
    }
    this.instcmds.set(ups, request);
    this.log.info(
      { ups, command: request.command, transaction: request.transaction },
      `MQTT command ${request.command} for ${ups}`,
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<CommandOutcome>((resolve) => {
      timer = setTimeout(() => resolve({ status: 'error', error: 'timeout' }), this.deps.instcmdTimeoutMs);
    });
    const run = work().catch((error: unknown): CommandOutcome => {
      this.log.error({ err: error, ups, command: request.command }, `${request.command} failed unexpectedly`);
      return { status: 'error', error: 'internal-error' };
    });
    void Promise.race([run, timeout]).then((outcome) => {
      clearTimeout(timer);
      if (this.instcmds.get(ups) !== request) return; // stop() answered it
      this.instcmds.delete(ups);
      this.answer(request, outcome);
    });
  }

  private runInstcmd(ups: string, command: string): Promise<CommandOutcome> {
    return this.deps.supervisor.instcmd(ups, command).then(
      (result): CommandOutcome => {
        const outcome = instcmdOutcome(result);
        if (outcome.status === 'error') {
          this.log.warn(
            { ups, command, result },
            `instant command ${command} for ${ups}: ${outcome.error} (${outcome.detail})`,
          );
        } else {
          this.log.info({ ups, command, result }, `instant command ${command} for ${ups}: ${result.outcome}`);
        }
        return outcome;
      },
      (error: unknown): CommandOutcome => {
        const detail =
          error instanceof NutClientError ? error.code : String((error as Error).message ?? error);
        this.log.warn({ ups, command, detail }, `instant command ${command} for ${ups} failed: ${detail}`);
        return { status: 'error', error: 'instcmd-failed', detail: detail.slice(0, 200) };
      },
    );
  }

  /** The self-test's own checks and start; its log lines are its own. */
  private async runSelfTest(ups: string, test: SelfTestType): Promise<CommandOutcome> {
    const started = await this.deps.selfTest?.startTest(ups, test, 'command');
    if (!started) return { status: 'error', error: 'internal-error' };
    if (started.ok) return { status: 'ok' };
    if (started.error !== 'instcmd-failed' && started.error !== 'instcmd-timeout')
      this.warn(
        started.error,
        { ups, test },
        `refused self-test for ${ups}: ${started.error} (${started.detail})`,
      );
    return { status: 'error', error: started.error, detail: started.detail };
  }

  // --- answers ----------------------------------------------------------------------------------------------------

  private refuse(
    request: Pending,
    error: CommandErrorCode,
    topic: string,
    extra: Record<string, unknown> = {},
    echoCommand = true,
  ): void {
    this.warn(error, { topic, ...extra }, `refused MQTT command on ${topic}: ${error}`);
    this.answer(request, { status: 'error', error }, { echoCommand });
  }

  private answer(request: Pending, outcome: CommandOutcome, opts: { echoCommand?: boolean } = {}): void {
    if (request.answered) return;
    request.answered = true;
    clearTimeout(request.timer);
    const echo = opts.echoCommand !== false && request.command !== '';
    const response = commandResponse(outcome, {
      ...(echo ? { command: request.command } : {}),
      ...(request.transaction === undefined ? {} : { transaction: request.transaction }),
      durationMs: this.now() - request.receivedAt,
    });
    this.deps.respond(request.responseTopic, response);
  }

  private warn(key: string, fields: Record<string, unknown>, message: string): void {
    const { log, suppressed } = this.limiter.take(key);
    if (!log) return;
    this.log.warn(
      suppressed > 0 ? { ...fields, suppressed } : fields,
      suppressed > 0 ? `${message} (${suppressed} similar warnings suppressed)` : message,
    );
  }
}
