// Contender A: the nut-mqtt CLI as a subprocess against a lab (`node dist/cli.js run`, or src/cli.ts via tsx),
// default timings; only the lab's NUT_* paths and NUT_USER=root are set. Its pino JSON log lines are kept in
// memory (per UPS) and written to a file for evidence.
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import { onCleanup } from './cleanup.js';
import { type Contender, rel } from './contender.js';
import { sleep } from './header.js';
import type { StatusObserver } from './observer.js';
import { isAlive, killHard, type ProcInfo, waitGone } from './procs.js';
import type { RecoveryLab } from './recoveryLab.js';

export interface LogLine {
  t: number;
  level: number;
  msg: string;
  ups?: string;
  fields: Record<string, unknown>;
}

/** Messages worth quoting as evidence of what the agent did. */
const INTERESTING = /state |hung|stale|recover|exited|started|SIGKILL|first fresh|PING|fresh again|failed/i;

export class AgentContender implements Contender {
  readonly name = 'nut-mqtt';
  readonly lines: LogLine[] = [];
  private readonly states = new Map<string, string>();
  private readonly lastStart = new Map<string, number>();
  private exit: string | undefined;
  private unregister: () => void = () => undefined;

  private constructor(
    readonly rlab: RecoveryLab,
    readonly observer: StatusObserver,
    private readonly child: ResultPromise,
    private readonly log: WriteStream,
  ) {}

  get pid(): number {
    return this.child.pid ?? 0;
  }

  static async start(
    rlab: RecoveryLab,
    observer: StatusObserver,
    opts: { logFile: string; fromSource: boolean; extraEnv?: Record<string, string> },
  ): Promise<AgentContender> {
    const args = opts.fromSource ? ['--import', 'tsx', 'src/cli.ts', 'run'] : ['dist/cli.js', 'run'];
    const env = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      ...rlab.lab.env,
      NUT_USER: 'root',
      ...opts.extraEnv,
    };
    const child = execa(process.execPath, args, {
      cwd: new URL('../..', import.meta.url).pathname,
      env,
      extendEnv: false,
      stdin: 'ignore',
      buffer: false,
      reject: false,
      forceKillAfterDelay: false,
    });
    const agent = new AgentContender(rlab, observer, child, createWriteStream(opts.logFile));
    agent.unregister = onCleanup('agent', () => agent.kill());
    agent.follow();
    await agent.waitAllOk(60_000);
    return agent;
  }

  private follow(): void {
    const rl = createInterface({ input: this.child.stdout as NodeJS.ReadableStream });
    rl.on('line', (line) => {
      this.log.write(`${line}\n`);
      this.parse(line);
    });
    this.child.stderr?.on('data', (chunk: Buffer) => this.log.write(`[stderr] ${chunk}`));
    void this.child.then((r) => {
      this.exit = r.signal ? `signal ${r.signal}` : `code ${r.exitCode}`;
    });
  }

  private parse(line: string): void {
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const t =
      typeof obj.time === 'string'
        ? Date.parse(obj.time)
        : typeof obj.time === 'number'
          ? obj.time
          : Date.now();
    const ups = typeof obj.ups === 'string' ? obj.ups : undefined;
    const msg = String(obj.msg ?? '');
    this.lines.push({ t, level: Number(obj.level ?? 30), msg, ...(ups ? { ups } : {}), fields: obj });
    if (!ups) return;
    if (typeof obj.to === 'string' && msg.startsWith('state ')) this.states.set(ups, obj.to);
    if (/^started /.test(msg)) this.lastStart.set(ups, t);
  }

  private async waitAllOk(timeoutMs: number): Promise<void> {
    const upses = this.rlab.lab.upses.map((u) => u.name);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exit) throw new Error(`agent exited during start (${this.exit}); see its log`);
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

  get exitInfo(): string | undefined {
    return this.exit;
  }

  /** SIGTERM (the agent's graceful shutdown), up to 20 s, then SIGKILL. */
  async stop(): Promise<string> {
    const pid = this.pid;
    const started = Date.now();
    if (isAlive(pid)) process.kill(pid, 'SIGTERM');
    const graceful = await waitGone(pid, 20_000);
    if (!graceful) await killHard(pid);
    await Promise.race([this.child, sleep(2000)]);
    await new Promise<void>((resolve) => this.log.end(resolve));
    this.unregister();
    return graceful
      ? `exited ${this.exit ?? '?'} ${Date.now() - started} ms after SIGTERM`
      : 'did NOT exit within 20 s of SIGTERM: SIGKILLed';
  }

  private async kill(): Promise<void> {
    if (isAlive(this.pid)) {
      process.kill(this.pid, 'SIGTERM');
      if (!(await waitGone(this.pid, 10_000))) await killHard(this.pid);
    }
  }
}
