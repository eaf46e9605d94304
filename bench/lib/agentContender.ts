// Contender A: the nut-mqtt CLI as a subprocess against a lab (`node dist/cli.js run`, or src/cli.ts via tsx),
// default timings; only the lab's NUT_* paths and NUT_USER=root are set. Its pino JSON log lines are kept in
// memory (per UPS) and written to a file for evidence.
import { AgentProcess, type LogLine, parseLogLine } from '../../test/fixtures/agentCli.js';
import type { ProcInfo } from '../../test/fixtures/labProcs.js';
import { sleep } from '../../test/fixtures/proc.js';
import type { UpsdObserver } from '../../test/fixtures/upsdObserver.js';
import { type Contender, rel } from './contender.js';
import type { RecoveryLab } from './recoveryLab.js';
import { onCleanup } from './run.js';

/** Messages worth quoting as evidence of what the agent did. */
const INTERESTING = /state |hung|stale|recover|exited|started|SIGKILL|first fresh|PING|fresh again|failed/i;

export class AgentContender implements Contender {
  readonly name = 'nut-mqtt';
  readonly lines: LogLine[] = [];
  private readonly states = new Map<string, string>();
  private readonly lastStart = new Map<string, number>();
  private readonly process: AgentProcess;
  private readonly unregister: () => void;

  private constructor(
    readonly rlab: RecoveryLab,
    readonly observer: UpsdObserver,
    opts: { logFile: string; fromSource: boolean; extraEnv?: Record<string, string> },
  ) {
    this.process = new AgentProcess({
      env: { ...rlab.lab.env, NUT_USER: 'root', ...opts.extraEnv },
      logFile: opts.logFile,
      fromSource: opts.fromSource,
      onLine: (line) => this.parse(line),
    });
    this.unregister = onCleanup('agent', () => this.process.stop(10_000).then(() => undefined));
  }

  get pid(): number {
    return this.process.pid;
  }

  static async start(
    rlab: RecoveryLab,
    observer: UpsdObserver,
    opts: { logFile: string; fromSource: boolean; extraEnv?: Record<string, string> },
  ): Promise<AgentContender> {
    const agent = new AgentContender(rlab, observer, opts);
    await agent.waitAllOk(60_000);
    return agent;
  }

  private parse(text: string): void {
    const line = parseLogLine(text);
    if (!line) return;
    this.lines.push(line);
    const { ups, msg, fields, t } = line;
    if (!ups) return;
    if (typeof fields.to === 'string' && msg.startsWith('state ')) this.states.set(ups, fields.to);
    if (/^started /.test(msg)) this.lastStart.set(ups, t);
  }

  private async waitAllOk(timeoutMs: number): Promise<void> {
    const upses = this.rlab.lab.upses.map((u) => u.name);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const exit = this.process.exit;
      if (exit) throw new Error(`agent exited during start (code ${exit.code}, signal ${exit.signal})`);
      if (upses.every((u) => this.states.get(u) === 'ok')) return;
      await sleep(100);
    }
    const missing = upses.filter((u) => this.states.get(u) !== 'ok');
    throw new Error(`agent: ${missing.join(', ')} not in state ok after ${timeoutMs} ms`);
  }

  idle(ups: string): boolean {
    return this.states.get(ups) === 'ok' && Date.now() - (this.lastStart.get(ups) ?? 0) >= 3000;
  }

  expected(_ups: string, candidates: readonly ProcInfo[]): ProcInfo | undefined {
    return candidates.find((p) => p.ppid === this.pid);
  }

  evidence(ups: string, from: number, to: number): string[] {
    return this.lines
      .filter((l) => l.ups === ups && l.t >= from - 1000 && l.t <= to && l.fields.child === undefined)
      .filter((l) => l.level >= 40 || INTERESTING.test(l.msg))
      .map((l) => `${rel(l.t, from)} ${l.msg}`);
  }

  /** Lines about any UPS matching `re` (e.g. restarts) — for the false-restart check. */
  find(re: RegExp): LogLine[] {
    return this.lines.filter((l) => re.test(l.msg));
  }

  /** SIGTERM (the agent's graceful shutdown), up to 20 s, then SIGKILL. */
  async stop(): Promise<string> {
    const { summary } = await this.process.stop(20_000);
    this.unregister();
    return summary;
  }
}
