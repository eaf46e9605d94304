import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import type { Logger } from '../logger.js';
import { isStartChatter } from './nutChatter.js';

/** pids of NUT children still running, for the exit hook. */
const liveChildren = new Set<number>();
let exitHookInstalled = false;

/** If the agent exits without stopping its children (a crash), take them along rather than leave orphans. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pid of liveChildren) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

export interface ProcessExit {
  code: number | null;
  signal: string | null;
  /** True when the exit was asked for by `stop()`. */
  expected: boolean;
  /** Set when the binary could not be started at all (ENOENT, EACCES). */
  spawnError?: string;
}

/** After SIGKILL, wait at least this long for the exit (a process in a USB call dies when the call returns). */
const MIN_KILL_WAIT_MS = 2000;
/** A process that acts on SIGTERM at once has exited by then (NUT 2.8.0 drivers: ~1 ms). */
const WAKE_AFTER_MS = 50;

/** How a process ended, for logs and errors: the spawn error, the signal or the exit code. */
export function describeExit(exit: ProcessExit | undefined): string {
  if (!exit) return 'still running';
  return exit.spawnError ?? (exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`);
}

export interface ManagedProcessOptions {
  /** Shown in logs, e.g. `upsd` or `dummy-ups -a ups1`. */
  label: string;
  file: string;
  args: readonly string[];
  env: Readonly<Record<string, string>>;
  logger: Logger;
  /** Each line the program writes to stderr, after it is logged (drivers say things there the supervisor acts on). */
  onStderrLine?: (line: string) => void;
}

/**
 * One NUT program run in the foreground as our child: started from an argument array (never a shell), its output
 * logged line by line, its exit observed the moment it happens. `stop()` is the graceful-then-forced ladder.
 */
export class ManagedProcess {
  readonly label: string;
  private child: ResultPromise | undefined;
  private exitInfo: ProcessExit | undefined;
  private stopping = false;
  private readonly exitWaiters: Array<(exit: ProcessExit) => void> = [];
  private readonly options: ManagedProcessOptions;
  /** Resolves once the process has exited, with how. */
  readonly exited: Promise<ProcessExit>;

  constructor(options: ManagedProcessOptions) {
    this.options = options;
    this.label = options.label;
    this.exited = new Promise((resolve) => this.exitWaiters.push(resolve));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.exitInfo === undefined;
  }

  get exit(): ProcessExit | undefined {
    return this.exitInfo;
  }

  /** Starts the program. Returns its pid, or undefined when it could not be spawned (the exit says why). */
  start(): number | undefined {
    if (this.child) throw new Error(`${this.label} was already started`);
    installExitHook();
    const { file, args, env, logger } = this.options;
    const child = execa(file, [...args], {
      env,
      extendEnv: false,
      stdin: 'ignore',
      buffer: false,
      reject: false,
      // The agent owns the ladder (SIGTERM + SIGCONT, wait, SIGKILL); execa must not add its own.
      forceKillAfterDelay: false,
      // Own process group: Ctrl-C in a terminal signals the whole foreground group, and NUT must not die (and be
      // "recovered") while the agent is still shutting down in order. Survivors of an agent crash are killed by
      // the exit hook below instead of execa's `cleanup`, which does not apply to detached children.
      detached: true,
    });
    this.child = child;
    const childPid = child.pid;
    if (childPid !== undefined) liveChildren.add(childPid);
    const log = logger.child({ childPid });
    const say = (out: 'stdout' | 'stderr', line: string) =>
      isStartChatter(line) ? log.debug({ out }, line) : log.info({ out }, line);
    this.pipeLines(child.stdout, (line) => say('stdout', line));
    this.pipeLines(child.stderr, (line) => {
      say('stderr', line);
      this.options.onStderrLine?.(line);
    });
    child.then(
      (result) => {
        const spawnError =
          childPid === undefined ? (result.originalMessage ?? result.shortMessage) : undefined;
        this.finish({
          code: result.exitCode ?? null,
          signal: result.signal ?? null,
          expected: this.stopping,
          ...(spawnError ? { spawnError } : {}),
        });
      },
      (error: unknown) =>
        this.finish({ code: null, signal: null, expected: this.stopping, spawnError: String(error) }),
    );
    return childPid;
  }

  /**
   * Graceful stop, then forced: SIGTERM and SIGCONT (a stopped or hung process only acts on SIGTERM once
   * continued; NUT 2.8.0 `-F` drivers have no SIGTERM handler and die at once), wait `timeoutMs`, then SIGKILL.
   * `wake`, when given, is called once if the process has not exited shortly after SIGTERM (a program that acts
   * on SIGTERM only when its main loop wakes). Resolves with `forced: true` when SIGKILL was needed.
   */
  async stop(timeoutMs: number, wake?: () => Promise<void>): Promise<{ forced: boolean; exit: ProcessExit }> {
    if (!this.child || this.exitInfo) return { forced: false, exit: await this.exited };
    this.stopping = true;
    this.signal('SIGTERM');
    this.signal('SIGCONT');
    if (wake) {
      const exited = await Promise.race([this.exited.then(() => true), sleep(WAKE_AFTER_MS, false)]);
      if (!exited) await wake();
    }
    const graceful = await Promise.race([this.exited.then(() => true), sleep(timeoutMs, false)]);
    if (graceful) return { forced: false, exit: await this.exited };
    this.signal('SIGKILL');
    // SIGKILL cannot be ignored; only a process stuck in uninterruptible sleep (a USB call) outlives it for a while.
    const killed = await Promise.race([
      this.exited.then(() => true),
      sleep(Math.max(timeoutMs, MIN_KILL_WAIT_MS), false),
    ]);
    if (!killed)
      this.options.logger.error({ childPid: this.pid }, `${this.label} did not exit after SIGKILL`);
    return { forced: true, exit: this.exitInfo ?? { code: null, signal: 'SIGKILL', expected: true } };
  }

  /** Sends a signal; false when the process is gone. */
  signal(signal: NodeJS.Signals): boolean {
    const pid = this.child?.pid;
    if (pid === undefined || this.exitInfo) return false;
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  private finish(exit: ProcessExit): void {
    if (this.exitInfo) return;
    if (this.child?.pid !== undefined) liveChildren.delete(this.child.pid);
    this.exitInfo = exit;
    for (const resolve of this.exitWaiters.splice(0)) resolve(exit);
  }

  private pipeLines(stream: Readable | null | undefined, onLine: (line: string) => void): void {
    if (!stream) return;
    const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
    lines.on('line', (line) => {
      const text = line.trimEnd();
      if (text) onLine(text.length > 2000 ? `${text.slice(0, 2000)}…` : text);
    });
  }
}
