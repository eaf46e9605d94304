// Contender B, the way people script it today: drivers started with `upsdrvctl -u root start` (daemonized,
// pid files in NUT_ALTPIDPATH), upsd `-F -u root` started by the harness, and per UPS a loop that runs
// `upsc <ups>@127.0.0.1:<port> ups.status` every 500 ms; on any failure it runs `upsdrvctl -u root stop <ups>`
// then `upsdrvctl -u root start <ups>`, then waits until upsc works again before watching for failures again.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { findDrivers, type ProcInfo } from '../../test/fixtures/labProcs.js';
import { processAlive, sleep, waitGone } from '../../test/fixtures/proc.js';
import type { UpsdObserver } from '../../test/fixtures/upsdObserver.js';
import { type Contender, rel } from './contender.js';
import type { RecoveryLab } from './recoveryLab.js';
import { onCleanup } from './run.js';

const UPSDRVCTL = ['/usr/sbin/upsdrvctl', '/sbin/upsdrvctl'].find((f) => existsSync(f)) ?? 'upsdrvctl';
const POLL_MS = 500;
/** Bound of the "wait until upsc works again" loop (the bench's trials are capped far below this). */
const WAIT_BOUND_MS = 15 * 60_000;

interface LoopState {
  phase: 'polling' | 'restarting' | 'waiting';
  lastRestartAt: number;
  actions: { t: number; what: string }[];
}

export class NaiveContender implements Contender {
  readonly name = 'naive';
  private readonly env: Record<string, string>;
  private readonly loops = new Map<string, LoopState>();
  private readonly running: Promise<void>[] = [];
  private readonly abort = new AbortController();
  private stopped = false;
  private unregister: () => void = () => undefined;
  upsdPid = 0;

  private constructor(
    readonly rlab: RecoveryLab,
    readonly observer: UpsdObserver,
  ) {
    this.env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...rlab.lab.env };
  }

  static async start(rlab: RecoveryLab, observer: UpsdObserver): Promise<NaiveContender> {
    const c = new NaiveContender(rlab, observer);
    c.unregister = onCleanup('naive loops', () => {
      c.stopped = true;
      c.abort.abort();
    });
    const r = await c.drvctl(['start'], 180_000);
    if (r.code !== 0) throw new Error(`upsdrvctl start failed (rc ${r.code}): ${r.output}`);
    c.upsdPid = await rlab.lab.startUpsd();
    for (const u of rlab.lab.upses) {
      if (!(await observer.waitFresh(u.name, 30_000))) throw new Error(`naive: ${u.name} has no fresh data`);
    }
    for (const u of rlab.lab.upses) {
      c.loops.set(u.name, { phase: 'polling', lastRestartAt: 0, actions: [] });
      c.running.push(c.loop(u.name));
    }
    return c;
  }

  private async drvctl(
    args: string[],
    timeout: number,
    cancellable = true,
  ): Promise<{ code: number; ms: number; output: string }> {
    const started = Date.now();
    const r = await execa(UPSDRVCTL, ['-u', 'root', ...args], {
      env: this.env,
      extendEnv: false,
      stdin: 'ignore',
      all: true,
      reject: false,
      timeout,
      ...(cancellable ? { cancelSignal: this.abort.signal } : {}),
    });
    const output = (r.all ?? '').replace(/Network UPS Tools - UPS driver controller \S+\n?/, '').trim();
    return { code: r.exitCode ?? -1, ms: Date.now() - started, output };
  }

  private async upsc(ups: string): Promise<{ ok: boolean; detail: string }> {
    const r = await execa('upsc', [`${ups}@127.0.0.1:${this.rlab.lab.port}`, 'ups.status'], {
      env: this.env,
      extendEnv: false,
      stdin: 'ignore',
      reject: false,
      timeout: 10_000,
    });
    const err = r.stderr
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('Init SSL'))
      .join(' ');
    return { ok: r.exitCode === 0, detail: r.exitCode === 0 ? r.stdout.trim() : err };
  }

  private async loop(ups: string): Promise<void> {
    const st = this.loops.get(ups) as LoopState;
    const act = (what: string): void => {
      st.actions.push({ t: Date.now(), what });
    };
    while (!this.stopped) {
      const check = await this.upsc(ups);
      if (!check.ok && !this.stopped) {
        st.phase = 'restarting';
        act(`upsc failed: ${check.detail}`);
        const stop = await this.drvctl(['stop', ups], 120_000);
        act(`upsdrvctl stop: rc ${stop.code} in ${stop.ms} ms${stop.output ? ` (${stop.output})` : ''}`);
        const start = await this.drvctl(['start', ups], 120_000);
        const said = oneLine(start.output);
        act(`upsdrvctl start: rc ${start.code} in ${start.ms} ms${said ? ` (${said})` : ''}`);
        st.lastRestartAt = Date.now();
        st.phase = 'waiting';
        const deadline = Date.now() + WAIT_BOUND_MS;
        while (!this.stopped && Date.now() < deadline && !(await this.upsc(ups)).ok) await sleep(POLL_MS);
        if (!this.stopped) act('upsc works again');
        st.phase = 'polling';
      }
      await sleep(POLL_MS);
    }
  }

  idle(ups: string): boolean {
    const st = this.loops.get(ups);
    return st?.phase === 'polling' && Date.now() - st.lastRestartAt >= 3000;
  }

  /** The driver named by the pid file `<driver>-<ups>.pid` in NUT_ALTPIDPATH. */
  expected(ups: string, candidates: readonly ProcInfo[]): ProcInfo | undefined {
    const file = join(this.rlab.lab.env.NUT_ALTPIDPATH ?? '', `${this.rlab.driverOf(ups)}-${ups}.pid`);
    let pid = Number.NaN;
    try {
      pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    } catch {
      // no pid file
    }
    return candidates.find((p) => p.pid === pid);
  }

  evidence(ups: string, from: number, to: number): string[] {
    return (this.loops.get(ups)?.actions ?? [])
      .filter((a) => a.t >= from - 1000 && a.t <= to)
      .map((a) => `${rel(a.t, from)} ${a.what}`);
  }

  allActions(): { ups: string; t: number; what: string }[] {
    return [...this.loops].flatMap(([ups, st]) => st.actions.map((a) => ({ ups, ...a })));
  }

  /** Ends the loops, then `upsdrvctl stop` for all drivers (upsd is the lab's and stops with it). */
  async stop(): Promise<string> {
    this.stopped = true;
    this.abort.abort();
    await Promise.race([Promise.all(this.running), sleep(5000)]);
    this.unregister();
    const r = await this.drvctl(['stop'], 30_000, false).catch((e: Error) => ({
      code: -1,
      ms: 0,
      output: e.message,
    }));
    // upsdrvctl stop only signals; wait for the drivers to go.
    const drivers = this.rlab.lab.upses.flatMap((u) =>
      findDrivers(this.rlab.match, this.rlab.driverOf(u.name), u.name),
    );
    for (const d of drivers) await waitGone(d.pid, 5000);
    const left = drivers.filter((d) => processAlive(d.pid)).length;
    return `upsdrvctl stop: rc ${r.code}; ${left} driver(s) still running 5 s later`;
  }
}

/** upsdrvctl's output without the driver banners: the duplicate-instance warnings counted, errors kept. */
function oneLine(text: string): string {
  const lines = text.split('\n').filter((l) => l.trim());
  const dup = lines.filter((l) => l.startsWith('Duplicate driver instance')).length;
  const rest = lines.filter(
    (l) => !l.startsWith('Duplicate driver instance') && /kill:|error|fail|can't|cannot|timed out/i.test(l),
  );
  return [
    ...(dup ? [`${dup}× "Duplicate driver instance detected … Terminating other driver!"`] : []),
    ...rest,
  ]
    .join('; ')
    .slice(0, 300);
}
