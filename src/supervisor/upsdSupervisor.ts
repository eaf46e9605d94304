import { backoffDelay, RETRY_BACKOFF } from '../backoff.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import type { NutClient } from '../nut/client.js';
import { NutConnectionError, NutTimeoutError } from '../nut/errors.js';
import { type NutSetup, userArgs } from '../nut/nutSetup.js';
import { abortableSleep } from './abortableSleep.js';
import { CommandsCache } from './commandsCache.js';
import { describeExit, ManagedProcess } from './managedProcess.js';
import type { PollResult, SupervisorTimings } from './upsSupervisor.js';

export interface UpsdSupervisorDeps {
  setup: NutSetup;
  timings: SupervisorTimings;
  bus: EventBus;
  logger: Logger;
  client: NutClient;
  upsNames: readonly string[];
  /** One poll result per UPS per cycle; `sentAt` is when the requests went out. */
  onPoll: (ups: string, result: PollResult, sentAt: number) => void;
  /** Instant commands upsd lists for a UPS (refreshed now and then). */
  onCommands: (ups: string, commands: string[]) => void;
  /** upsd came back after a restart: NUT 2.8.0 drivers spin on the dead connection unless restarted too. */
  onRestarted: () => void;
}

/**
 * Wait before restarting upsd after its `crashesInARow`-th quick exit. A upsd that had been running is restarted at
 * once: every second of waiting is a second of port 3493 gone for other NUT clients. Only a upsd that keeps dying
 * right after its start (port taken, bad config) backs off: 1 s, 2 s, 4 s … up to 30 s.
 */
export function upsdRestartDelay(crashesInARow: number): number {
  return crashesInARow <= 1 ? 0 : backoffDelay(crashesInARow - 1, RETRY_BACKOFF);
}

/** upsd that ran this long is considered healthy again; its next crash starts the backoff over. */
const STABLE_AFTER_MS = 10_000;
/** A started upsd reads its configuration and listens within a second; 15 s covers a slow disk or a busy host. */
const LISTEN_TIMEOUT_MS = 15_000;
/** How often a started upsd is asked whether it answers yet. */
const LISTEN_POLL_MS = 100;

function isTransportError(error: unknown): boolean {
  return error instanceof NutConnectionError || error instanceof NutTimeoutError;
}

/**
 * Runs upsd as a watched child, polls it for every UPS over the one persistent connection, and restarts it only
 * when it is dead or stops answering. Restarting upsd never restarts a driver directly: it asks the supervisor.
 */
export class UpsdSupervisor {
  private readonly deps: UpsdSupervisorDeps;
  private readonly log: Logger;
  private process: ManagedProcess | undefined;
  private startedAt = 0;
  private crashes = 0;
  private stopped = false;
  private readonly abort = new AbortController();
  private restarting: Promise<void> | undefined;
  private consecutiveFailures = 0;
  private lastPollAnswered = false;
  private readonly commands = new CommandsCache();
  private pollLoop: Promise<void> | undefined;

  constructor(deps: UpsdSupervisorDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ module: 'upsd' });
  }

  get pid(): number | undefined {
    return this.process?.running ? this.process.pid : undefined;
  }

  /** upsd runs and its last poll was answered. */
  get answering(): boolean {
    return this.process?.running === true && this.lastPollAnswered;
  }

  start(): void {
    // A (re)started driver may list other commands: ask for its list again on the next poll.
    this.deps.bus.on('driver-started', (e) => this.commands.forget(e.ups), this);
    this.spawn();
    this.pollLoop = this.poll();
  }

  /** From now on upsd is not restarted and not polled: the agent is shutting down. */
  prepareStop(): void {
    this.stopped = true;
    this.abort.abort();
    this.deps.bus.removeOwner(this);
  }

  async stop(): Promise<void> {
    this.prepareStop();
    await this.pollLoop;
    await this.restarting?.catch(() => undefined);
    if (this.process) {
      const { forced } = await this.process.stop(this.deps.timings.stopTimeout);
      if (forced) this.log.warn('upsd needed SIGKILL to stop');
    }
  }

  /** Restarts upsd (stop, start, wait until it answers), then has the drivers restarted. Concurrent calls join. */
  restart(reason: string): Promise<void> {
    this.restarting ??= this.doRestart(reason).finally(() => {
      this.restarting = undefined;
    });
    return this.restarting;
  }

  private spawn(): void {
    const { setup, bus } = this.deps;
    const upsd = new ManagedProcess({
      label: 'upsd',
      file: setup.upsdPath,
      args: ['-F', ...userArgs(setup)],
      env: setup.childEnv,
      logger: this.log.child({ child: 'upsd' }),
    });
    this.process = upsd;
    this.startedAt = Date.now();
    const childPid = upsd.start();
    if (childPid !== undefined) {
      this.log.info({ childPid }, `started upsd (${setup.address.host}:${setup.address.port})`);
      bus.emit('upsd-started', { childPid, at: Date.now() });
    }
    void upsd.exited.then((exit) => {
      bus.emit('upsd-exited', {
        childPid: childPid ?? 0,
        code: exit.code,
        signal: exit.signal,
        expected: exit.expected,
        at: Date.now(),
      });
      if (exit.expected || this.stopped || this.process !== upsd) return;
      const detail = describeExit(exit);
      this.crashes = Date.now() - this.startedAt > STABLE_AFTER_MS ? 1 : this.crashes + 1;
      const delay = upsdRestartDelay(this.crashes);
      this.log.error(
        { childPid, code: exit.code, signal: exit.signal },
        `upsd exited (${detail}); restarting in ${delay} ms`,
      );
      void this.pause(delay).then((ok) => (ok ? this.restart(`upsd exited (${detail})`) : undefined));
    });
  }

  private async doRestart(reason: string): Promise<void> {
    const started = Date.now();
    this.log.warn({ reason }, `restarting upsd: ${reason}`);
    if (this.process?.running) await this.process.stop(this.deps.timings.stopTimeout);
    if (this.stopped) return;
    this.spawn();
    const listening = await this.waitUntilAnswering();
    if (this.stopped) return;
    if (!listening) {
      this.log.error(`upsd did not answer within ${LISTEN_TIMEOUT_MS} ms after restart`);
      return;
    }
    const durationMs = Date.now() - started;
    this.consecutiveFailures = 0;
    this.log.info({ durationMs }, `upsd answers again after ${durationMs} ms`);
    this.deps.bus.emit('upsd-restarted', { reason, durationMs, at: Date.now() });
    this.deps.onRestarted();
  }

  private async waitUntilAnswering(): Promise<boolean> {
    const deadline = Date.now() + LISTEN_TIMEOUT_MS;
    while (!this.stopped && this.process?.running && Date.now() < deadline) {
      try {
        await this.deps.client.version();
        return true;
      } catch {
        if (!(await this.pause(LISTEN_POLL_MS))) return false;
      }
    }
    return false;
  }

  private pause(ms: number): Promise<boolean> {
    return abortableSleep(ms, this.abort.signal);
  }

  /**
   * Before the first poll: a upsd just started binds its port within a few hundred ms. Until then a refused
   * connection is no news, so it is asked quietly; only a upsd that still does not answer after LISTEN_TIMEOUT_MS
   * is worth a warning (and then the polls below count failures as usual).
   */
  private async waitForFirstAnswer(): Promise<void> {
    const started = Date.now();
    if (await this.waitUntilAnswering()) {
      this.lastPollAnswered = true;
      this.log.info(`upsd answers ${Date.now() - started} ms after its start`);
    } else if (!this.stopped && this.process?.running) {
      this.log.warn(`upsd does not answer ${LISTEN_TIMEOUT_MS} ms after its start`);
    }
  }

  /** One cycle: every UPS's LIST VAR pipelined in one go (upsd's Nagle stall is paid once, not once per UPS). */
  private async poll(): Promise<void> {
    const { client, upsNames, timings, onPoll } = this.deps;
    await this.waitForFirstAnswer();
    while (!this.stopped) {
      const sentAt = Date.now();
      const results = await Promise.all(
        upsNames.map((name) =>
          client.listVar(name).then(
            (vars): PollResult & { transport?: boolean } => ({ ok: true, vars }),
            (error: { code?: string; message?: string }) => ({
              ok: false as const,
              code: String(error.code ?? 'ERROR'),
              message: String(error.message),
              transport: isTransportError(error),
            }),
          ),
        ),
      );
      if (this.stopped) return;
      this.lastPollAnswered = !results.every((r) => !r.ok && r.transport);
      if (!this.lastPollAnswered) {
        this.onTransportFailure(results[0] && !results[0].ok ? results[0].message : 'no answer');
      } else {
        if (this.consecutiveFailures > 0) this.log.info('upsd answers polls again');
        this.consecutiveFailures = 0;
        const connected = new Set<string>();
        upsNames.forEach((name, i) => {
          const result = results[i];
          if (result) onPoll(name, result, sentAt);
          // Data from the driver (not upsd's WAIT placeholder): upsd has the driver's full dump, commands included.
          if (result?.ok && result.vars.size > 0 && result.vars.get('ups.status') !== 'WAIT')
            connected.add(name);
        });
        await this.refreshCommands(connected);
      }
      if (!(await this.pause(timings.pollInterval))) return;
    }
  }

  private onTransportFailure(message: string): void {
    this.consecutiveFailures += 1;
    if (this.consecutiveFailures === 1) this.log.warn(`upsd does not answer: ${message}`);
    if (this.restarting || !this.process?.running) return;
    if (this.consecutiveFailures >= this.deps.timings.upsdFailureThreshold) {
      this.deps.bus.emit('upsd-unresponsive', { error: message, at: Date.now() });
      void this.restart(`upsd unresponsive (${this.consecutiveFailures} polls failed: ${message})`);
    }
  }

  /** `LIST CMD` for the UPSes whose list is due (see CommandsCache); `connected`: their poll had data. */
  private async refreshCommands(connected: ReadonlySet<string>): Promise<void> {
    const { client, onCommands } = this.deps;
    const due = this.commands.due(this.deps.upsNames, Date.now());
    if (due.length === 0) return;
    const lists = await Promise.all(due.map((name) => client.listCmd(name).catch(() => undefined)));
    const now = Date.now();
    due.forEach((name, i) => {
      const list = lists[i];
      if (!list) return;
      this.commands.answered(name, list, connected.has(name), now);
      onCommands(name, list);
    });
  }
}
