// The agent as a user runs it: `node dist/cli.js run` (or the TypeScript source through tsx) in its own process,
// configured only through the environment, its JSON log appended to a file.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { isAlive, waitGone } from './procs.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface AgentExit {
  code: number | undefined;
  signal: string | undefined;
  at: number;
  /** False when it exited without being asked to. */
  expected: boolean;
}

export interface AgentProcessOptions {
  env: Record<string, string>;
  logFile: string;
  /** `node --import tsx src/cli.ts run` instead of `node dist/cli.js run`. */
  fromSource?: boolean;
}

export class AgentProcess {
  readonly pid: number;
  readonly logFile: string;
  readonly argv: string[];
  private readonly child: ResultPromise;
  private stopping = false;
  private exitInfo: AgentExit | undefined;
  readonly exited: Promise<AgentExit>;

  private constructor(opts: AgentProcessOptions) {
    this.logFile = opts.logFile;
    this.argv = opts.fromSource ? ['--import', 'tsx', 'src/cli.ts', 'run'] : ['dist/cli.js', 'run'];
    this.child = execa('node', this.argv, {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...opts.env },
      extendEnv: false,
      stdin: 'ignore',
      stdout: { file: opts.logFile, append: true },
      stderr: { file: opts.logFile, append: true },
      reject: false,
      forceKillAfterDelay: false,
    });
    if (this.child.pid === undefined) throw new Error('cannot start the agent (node)');
    this.pid = this.child.pid;
    this.exited = this.child.then((r) => {
      this.exitInfo = {
        code: r.exitCode,
        signal: r.signal,
        at: Date.now(),
        expected: this.stopping,
      };
      return this.exitInfo;
    });
  }

  static start(opts: AgentProcessOptions): AgentProcess {
    return new AgentProcess(opts);
  }

  /** Set once the process has exited. */
  get exit(): AgentExit | undefined {
    return this.exitInfo;
  }

  get running(): boolean {
    return this.exitInfo === undefined && isAlive(this.pid);
  }

  /**
   * SIGTERM, as systemd or Docker would stop it; SIGKILL if it has not exited after `graceMs`.
   * Resolves with how it exited and whether SIGKILL was needed.
   */
  async stop(graceMs = 30_000): Promise<{ exit: AgentExit; forced: boolean }> {
    if (this.exitInfo) return { exit: this.exitInfo, forced: false };
    this.stopping = true;
    this.child.kill('SIGTERM');
    const graceful = await Promise.race([
      this.exited.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), graceMs)),
    ]);
    if (!graceful) {
      this.child.kill('SIGKILL');
      await waitGone(this.pid, 5000);
    }
    return { exit: await this.exited, forced: !graceful };
  }

  /** The last `n` lines of its log. */
  logTail(n = 20): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
    } catch {
      return '(no log)';
    }
  }
}
