// The soak itself: a private Mosquitto, an isolated NUT config with N dummy-ups UPSes (plus one blazer_ser UPS on
// the Q1 simulator), the agent as a subprocess that starts upsd and the drivers itself, and an outside MQTT client.
// Faults are injected one at a time: each waits until everything is healthy again, then a random pause, then the
// fault; its recovery is timed until the outside world sees fresh data (MQTT availability `online` again and upsd
// serving a real status), capped per fault. See bench/soak.ts for the command line.
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentExit, AgentProcess, type LogSummary, summarizeLog } from '../../test/fixtures/agentCli.js';
import {
  type NutPids,
  nutPids,
  type ProcInfo,
  signalLabPid,
  sweepLab,
} from '../../test/fixtures/labProcs.js';
import type { Broker } from '../../test/fixtures/mosquitto.js';
import { startMqttLab } from '../../test/fixtures/mqttAgent.js';
import { type Observer, retainedOn } from '../../test/fixtures/mqttObserver.js';
import { Rng } from '../../test/fixtures/prng.js';
import { fdCount, rssKb, sleep } from '../../test/fixtures/proc.js';
import type { Q1Simulator } from '../../test/fixtures/q1Simulator.js';
import { UpsdObserver } from '../../test/fixtures/upsdObserver.js';
import { cleanup, onCleanup } from '../lib/run.js';
import {
  type ActiveFault,
  commandResponse,
  type FaultContext,
  type FaultKind,
  inject,
  jsonObject,
} from './faults.js';
import { type PlannedFault, planFaults } from './schedule.js';

export const BASE_TOPIC = 'nut';
export const Q1_UPS = 'q1';
const POLL_MS = 100;

export interface SoakOptions {
  /** dummy-ups UPSes (ups1…upsN). */
  upses: number;
  /** Also one blazer_ser UPS on the Q1 simulator (needed for the stale fault). */
  q1: boolean;
  faults: number;
  seed: number;
  kinds: readonly FaultKind[];
  /** A fault not recovered within this long counts as not recovered. */
  capMs: number;
  /** Random pause before each fault, once everything is healthy again. */
  gapMs: readonly [number, number];
  /** How long to wait for everything to be healthy before a fault (and at start, at the end). */
  settleTimeoutMs: number;
  /** Extra agent environment (timings, breaker). */
  agentEnv: Record<string, string>;
  /** The agent's COMMAND_COOLDOWN: a restart command waits this long after the previous one on the same UPS. */
  commandCooldownMs: number;
  /** Run the agent from src/ through tsx instead of dist/. */
  agentFromSource: boolean;
  /** Agent log and schedule go here (kept). */
  outDir: string;
  log: (line: string) => void;
}

export interface WrongRestart {
  ups: string;
  before?: number;
  after?: number;
  /** `recovering` events the agent published for that UPS meanwhile (why it restarted it). */
  reasons: string[];
}

export interface FaultRecord extends PlannedFault {
  detail: string;
  injectedAt: number;
  /** Injection to fresh data, when recovered within the cap. */
  recoveredMs?: number;
  /** Injection to the first `offline` of a concerned UPS on MQTT (the agent noticed); not for a broker restart. */
  noticedMs?: number;
  error?: string;
  /** `reason` and `duration_ms` of the agent's `recovered` events for the target UPS(es) in this fault's window. */
  agentReasons: string[];
  agentDurationsMs: number[];
  /** `recovery-failed` events (failed attempts) for the target UPS(es). */
  failedAttempts: number;
  wrongRestarts: WrongRestart[];
  /** Set when the lab was not all healthy before this fault (it was injected anyway). */
  unsettled?: string;
}

export interface SoakResult {
  options: SoakOptions;
  upses: string[];
  startedAt: number;
  setupMs: number;
  endedAt: number;
  faults: FaultRecord[];
  /** Exits of the agent that nobody asked for (must be none). */
  agentExits: AgentExit[];
  agentPid: number;
  /** Retained state (or availability) that disagrees with upsd at the end. */
  disagreements: string[];
  /** Still unhealthy after the last fault (settle timeout). */
  finalUnsettled?: string;
  /** NUT processes of the lab still alive right after the agent exited on SIGTERM. */
  leaked: ProcInfo[];
  fds: { start?: number; beforeLast?: number; end?: number };
  rssKb: { start?: number; end?: number };
  agentStop?: { code?: number; signal?: string; forced: boolean; ms: number };
  log: LogSummary;
  logFile: string;
  observer: { messages: number; reconnects: number };
  aborted: boolean;
}

/** Everything it starts registers with the benchmarks' cleanup (bench/lib/run.ts), which runBench runs. */
export class Soak {
  private aborted = false;

  constructor(private readonly o: SoakOptions) {}

  /** Stops the fault loop at the next opportunity (Ctrl-C); runBench then runs the cleanup. */
  abort(): void {
    this.aborted = true;
  }

  async run(): Promise<SoakResult> {
    const o = this.o;
    const startedAt = Date.now();
    await mkdir(o.outDir, { recursive: true });

    // --- setup ------------------------------------------------------------------------------------------------
    // The outside view (an MQTT client on `<base>/#`) is subscribed before the agent starts, as Home Assistant or
    // Node-RED would be.
    const { broker, lab, obs, sim } = await startMqttLab(
      {
        upses: Array.from({ length: o.upses }, (_, i) => ({ name: `ups${i + 1}` })),
        ...(o.q1 ? { q1Ups: Q1_UPS } : {}),
        observe: [`${BASE_TOPIC}/#`],
        observer: { reconnectPeriodMs: 250 },
      },
      cleanup,
    );
    const upses = lab.upses.map((u) => u.name);
    const upsd = new UpsdObserver(lab.port);
    onCleanup('upsd client', () => upsd.close());

    const logFile = join(o.outDir, 'agent.log');
    const agent = new AgentProcess({
      env: {
        ...lab.env,
        NUT_USER: 'root',
        MQTT_URL: broker.url,
        MQTT_BASE_TOPIC: BASE_TOPIC,
        LOG_LEVEL: 'info',
        COMMAND_COOLDOWN: String(o.commandCooldownMs),
        ...o.agentEnv,
      },
      logFile,
      fromSource: o.agentFromSource,
    });
    onCleanup('agent and leftovers', async () => {
      if (agent.running) await agent.stop(15_000);
      await sweepLab(lab.confPath);
    });
    const agentExits: AgentExit[] = [];
    void agent.exited.then((exit) => {
      if (!exit.expected) {
        agentExits.push(exit);
        o.log(`!! the agent exited unexpectedly (code ${exit.code}, signal ${exit.signal}); log tail:`);
        o.log(agent.logTail());
      }
    });
    o.log(`agent pid ${agent.pid} (node ${agent.argv.join(' ')}), log ${logFile}`);
    o.log(`lab ${lab.dir}: upsd 127.0.0.1:${lab.port}, UPSes ${upses.join(', ')}; broker ${broker.url}`);

    const ctx: FaultContext = {
      confPath: lab.confPath,
      agentPid: agent.pid,
      base: BASE_TOPIC,
      allUpses: upses,
      broker,
      obs,
      ...(sim ? { sim, q1Ups: Q1_UPS } : {}),
      capMs: o.capMs,
    };
    const settle = (timeoutMs: number) => this.settle(ctx, upsd, agent, sim, timeoutMs);

    const startIssue = await settle(Math.max(o.settleTimeoutMs, 90_000));
    if (startIssue !== undefined) {
      throw new Error(`the lab did not come up healthy: ${startIssue}\nagent log tail:\n${agent.logTail()}`);
    }
    const setupMs = Date.now() - startedAt;
    o.log(`setup done in ${(setupMs / 1000).toFixed(1)} s: every UPS online on MQTT and served by upsd`);

    // --- the faults ---------------------------------------------------------------------------------------------
    const plan = planFaults({
      rng: new Rng(o.seed),
      count: o.faults,
      kinds: o.kinds,
      upses,
      ...(sim ? { q1Ups: Q1_UPS } : {}),
      gapMs: o.gapMs,
    });
    const records: FaultRecord[] = [];
    const fds: SoakResult['fds'] = {};
    const rss: SoakResult['rssKb'] = {};
    const lastCommandDone = new Map<string, number>();
    let previous: { record: FaultRecord; fault: ActiveFault | undefined; pids: NutPids } | undefined;

    for (const planned of plan) {
      if (this.aborted || agent.exit) break;
      const unsettled = planned.n === 1 ? undefined : await settle(o.settleTimeoutMs);
      if (unsettled !== undefined) o.log(`   (not all healthy before fault ${planned.n}: ${unsettled})`);
      await sleep(planned.gapMs);
      if (planned.kind === 'restart-cmd' && planned.ups !== undefined) {
        // The agent refuses a second commanded restart of a UPS within COMMAND_COOLDOWN: respect it.
        const ready = (lastCommandDone.get(planned.ups) ?? 0) + o.commandCooldownMs + 500;
        if (Date.now() < ready) await sleep(ready - Date.now());
      }
      if (this.aborted || agent.exit) break;

      const pids = nutPids(lab.confPath, [agent.pid]);
      if (previous) this.closeWindow(previous, pids, obs, Date.now());
      if (planned.n === 1) {
        fds.start = fdCount(agent.pid);
        rss.start = rssKb(agent.pid);
      }
      if (planned.n === plan.length) fds.beforeLast = fdCount(agent.pid);

      const record: FaultRecord = {
        ...planned,
        detail: '',
        injectedAt: Date.now(),
        agentReasons: [],
        agentDurationsMs: [],
        failedAttempts: 0,
        wrongRestarts: [],
        ...(unsettled === undefined ? {} : { unsettled }),
      };
      records.push(record);
      let fault: ActiveFault | undefined;
      try {
        fault = await inject(planned.kind, planned.ups, ctx, `soak-${planned.n}`);
        record.detail = fault.detail;
        record.injectedAt = fault.injectedAt;
        const outcome = await this.waitRecovered(fault, upsd, obs, agent);
        if ('recoveredAt' in outcome) record.recoveredMs = outcome.recoveredAt - fault.injectedAt;
        else {
          record.error = outcome.error;
          fault.abandon();
        }
        if (planned.kind === 'restart-cmd' && planned.ups !== undefined) {
          const response = commandResponse(obs, BASE_TOPIC, planned.ups, `soak-${planned.n}`);
          lastCommandDone.set(planned.ups, response?.t ?? Date.now());
        }
      } catch (error) {
        record.error = `injection failed: ${(error as Error).message}`;
        fault?.abandon();
      }
      o.log(progressLine(record, plan.length));
      previous = { record, fault, pids };
    }

    // --- the end: healthy again? retained state, fds, RSS; then SIGTERM and leftovers ------------------------------
    const finalUnsettled = agent.exit ? 'the agent exited' : await settle(o.settleTimeoutMs);
    if (finalUnsettled !== undefined) o.log(`   (not all healthy at the end: ${finalUnsettled})`);
    if (previous) this.closeWindow(previous, nutPids(lab.confPath, [agent.pid]), obs, Date.now());

    const disagreements = agent.exit
      ? ['the agent is not running']
      : await this.compareRetained(broker, upsd, upses);
    fds.end = fdCount(agent.pid);
    rss.end = rssKb(agent.pid);

    let agentStop: SoakResult['agentStop'];
    if (!agent.exit) {
      const t0 = Date.now();
      const { exit, forced } = await agent.stop(30_000);
      agentStop = { code: exit.code, signal: exit.signal, forced, ms: Date.now() - t0 };
    }
    const leaked = await sweepLab(lab.confPath);

    return {
      options: o,
      upses,
      startedAt,
      setupMs,
      endedAt: Date.now(),
      faults: records,
      agentExits,
      agentPid: agent.pid,
      disagreements,
      ...(finalUnsettled === undefined ? {} : { finalUnsettled }),
      leaked,
      fds,
      rssKb: rss,
      ...(agentStop ? { agentStop } : {}),
      log: summarizeLog(logFile),
      logFile,
      observer: { messages: obs.messages.length, reconnects: obs.connects.length - 1 },
      aborted: this.aborted,
    };
  }

  /**
   * Waits until every UPS the fault concerns has fresh data again as seen from outside: an `online` availability
   * after the fault (after an `offline`, for faults the agent must notice) and upsd answering a real status. The
   * recovery time is the later of the two, from injection. Bounded by the cap.
   */
  private async waitRecovered(
    fault: ActiveFault,
    upsd: UpsdObserver,
    obs: Observer,
    agent: AgentProcess,
  ): Promise<{ recoveredAt: number } | { error: string }> {
    const deadline = fault.injectedAt + this.o.capMs;
    upsd.resetStreaks();
    for (;;) {
      if (agent.exit) return { error: 'the agent exited' };
      const check = fault.check?.();
      if (check?.error) return { error: check.error };
      const real = await upsd.freshSince(fault.mustRecover);
      const since = fault.onlineSince();
      if (since !== undefined && (check === undefined || check.done)) {
        const at = fault.mustRecover.map((ups) => {
          const online = onlineAt(obs, ups, since, fault.afterOffline);
          const realSince = real.get(ups);
          return online !== undefined && realSince !== undefined ? Math.max(online, realSince) : undefined;
        });
        if (at.every((t) => t !== undefined)) return { recoveredAt: Math.max(...(at as number[])) };
      }
      if (Date.now() >= deadline) {
        const waiting = fault.mustRecover
          .map((ups) => {
            const online = since === undefined ? undefined : onlineAt(obs, ups, since, fault.afterOffline);
            return `${ups}: availability ${online ? 'online' : `not online again (last ${obs.latest(availability(ups))?.text})`}, upsd ${real.get(ups) ? 'real' : 'not real'}`;
          })
          .join('; ');
        const pending = check && !check.done ? '; no command response yet' : '';
        return { error: `not recovered within ${this.o.capMs / 1000} s (${waiting}${pending})` };
      }
      await sleep(POLL_MS);
    }
  }

  /**
   * Healthy means: every UPS `online` with supervisor state ok on MQTT, the agent's bridge `online`, one driver per
   * UPS and one upsd, none stopped, and upsd serving a real status for every UPS. Returns what is still wrong after
   * `timeoutMs`, or undefined.
   */
  private async settle(
    ctx: FaultContext,
    upsd: UpsdObserver,
    agent: AgentProcess,
    sim: Q1Simulator | undefined,
    timeoutMs: number,
  ): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (agent.exit) return 'the agent exited';
      const issues: string[] = [];
      if (ctx.obs.latest(`${BASE_TOPIC}/bridge/state`)?.text !== 'online')
        issues.push('bridge state not online');
      for (const ups of ctx.allUpses) {
        const online = ctx.obs.latest(availability(ups))?.text;
        if (online !== 'online') issues.push(`${ups} availability ${online ?? '(none)'}`);
        const state = supervisorState(ctx.obs, ups);
        if (state !== 'ok') issues.push(`${ups} supervisor state ${state ?? '(none)'}`);
      }
      const pids = nutPids(ctx.confPath, [agent.pid]);
      for (const ups of ctx.allUpses) {
        const n = pids.drivers.get(ups)?.length ?? 0;
        if (n !== 1) issues.push(`${ups} has ${n} driver processes`);
      }
      if (pids.upsd.length !== 1) issues.push(`${pids.upsd.length} upsd processes`);
      for (const p of pids.stopped) issues.push(`pid ${p.pid} (${p.argv.join(' ')}) is stopped`);
      if (issues.length === 0) {
        const answers = await upsd.readAll(ctx.allUpses);
        for (const [ups, a] of answers) if (!a.fresh) issues.push(`upsd ${ups}: ${a.value}`);
      }
      if (issues.length === 0) return undefined;
      if (Date.now() >= deadline) {
        // Leave nothing of a fault behind for the next one: a stopped process is continued, the Q1 UPS answers.
        for (const p of pids.stopped) signalLabPid(p.pid, ctx.confPath, 'SIGCONT');
        sim?.setMuted(false);
        return issues.join('; ');
      }
      await sleep(250);
    }
  }

  /** Ends a fault's window (at the next injection or the end): whose driver pid changed, what the agent said. */
  private closeWindow(
    prev: { record: FaultRecord; fault: ActiveFault | undefined; pids: NutPids },
    now: NutPids,
    obs: Observer,
    until: number,
  ): void {
    const { record, fault, pids } = prev;
    const targets = fault?.mustRecover ?? (record.ups ? [record.ups] : []);
    if (fault?.afterOffline) {
      const offline = targets.flatMap((ups) => {
        const m = obs.on(availability(ups)).find((a) => a.t >= record.injectedAt && a.text === 'offline');
        return m && m.t <= until ? [m.t] : [];
      });
      if (offline.length) record.noticedMs = Math.min(...offline) - record.injectedAt;
    }
    for (const ups of targets) {
      for (const e of eventsOf(obs, ups, 'recovered', record.injectedAt, until)) {
        record.agentReasons.push(String(e.json.reason));
        if (typeof e.json.duration_ms === 'number') record.agentDurationsMs.push(e.json.duration_ms);
      }
      record.failedAttempts += eventsOf(obs, ups, 'recovery-failed', record.injectedAt, until).length;
    }
    const mayRestart = fault?.mayRestart ?? 'target';
    for (const ups of new Set([...pids.drivers.keys(), ...now.drivers.keys()])) {
      if (record.wrongRestarts.some((w) => w.ups === ups)) continue;
      const before = pids.drivers.get(ups)?.[0];
      const after = now.drivers.get(ups)?.[0];
      if (before === after) continue;
      if (mayRestart === 'all' || (mayRestart === 'target' && ups === record.ups)) continue;
      record.wrongRestarts.push({
        ups,
        ...(before === undefined ? {} : { before }),
        ...(after === undefined ? {} : { after }),
        reasons: eventsOf(obs, ups, 'recovering', record.injectedAt, until).map((e) => String(e.json.reason)),
      });
    }
    for (const w of record.wrongRestarts)
      this.o.log(
        `   !! after fault #${record.n} (${record.kind} ${record.ups ?? '*'}): driver of ${w.ups} changed pid ${w.before ?? '-'} → ${w.after ?? '-'} (agent's reasons: ${w.reasons.join(', ') || 'none published'})`,
      );
  }

  /** Every retained `<base>/<ups>` state's `ups.status` against upsd's, and every availability `online`. */
  private async compareRetained(
    broker: Broker,
    upsd: UpsdObserver,
    upses: readonly string[],
  ): Promise<string[]> {
    const retained = await retainedOn(broker, [`${BASE_TOPIC}/#`]);
    const answers = await upsd.readAll(upses);
    const out: string[] = [];
    for (const ups of upses) {
      const a = answers.get(ups);
      const upsdStatus = a?.fresh ? a.value : `(${a?.value})`;
      const raw = retained.get(`${BASE_TOPIC}/${ups}`);
      let status: unknown;
      try {
        status = raw === undefined ? undefined : (JSON.parse(raw) as Record<string, unknown>)['ups.status'];
      } catch {
        status = '(not JSON)';
      }
      if (status !== upsdStatus)
        out.push(`${ups}: retained ups.status ${JSON.stringify(status)}, upsd ${JSON.stringify(upsdStatus)}`);
      const availability = retained.get(`${BASE_TOPIC}/${ups}/availability`);
      if (availability !== 'online')
        out.push(`${ups}: retained availability ${JSON.stringify(availability)}`);
    }
    return out;
  }
}

// What the outside client saw of the agent's topics.
const availability = (ups: string): string => `${BASE_TOPIC}/${ups}/availability`;

function supervisorState(obs: Observer, ups: string): unknown {
  const state = jsonObject(obs.latest(`${BASE_TOPIC}/${ups}`)?.text ?? '');
  return (state?.supervisor as { state?: unknown } | undefined)?.state;
}

/**
 * When `ups` was seen `online` again after `since`: with `afterOffline`, the first `online` that follows an
 * `offline` received after `since` (the agent noticed the fault, then had fresh data again); otherwise the first
 * `online` received after `since`.
 */
function onlineAt(obs: Observer, ups: string, since: number, afterOffline: boolean): number | undefined {
  let armed = !afterOffline;
  for (const m of obs.on(availability(ups))) {
    if (m.t < since) continue;
    if (m.text === 'offline') armed = true;
    else if (m.text === 'online' && armed) return m.t;
  }
  return undefined;
}

/** The agent's `<base>/<ups>/event` messages of one type received in [since, until]. */
function eventsOf(obs: Observer, ups: string, type: string, since: number, until: number) {
  return obs
    .on(`${BASE_TOPIC}/${ups}/event`)
    .filter((m) => m.t >= since && m.t <= until)
    .flatMap((m) => {
      const json = jsonObject(m.text);
      return json?.type === type ? [{ t: m.t, json }] : [];
    });
}

function progressLine(r: FaultRecord, total: number): string {
  const width = String(total).length;
  const what = `${r.kind.padEnd(14)} ${(r.ups ?? '*').padEnd(6)}`;
  const outcome =
    r.recoveredMs !== undefined
      ? `fresh after ${(r.recoveredMs / 1000).toFixed(2).padStart(6)} s`
      : `FAILED: ${r.error}`;
  return `#${String(r.n).padStart(width)} ${what} ${outcome}  (${r.detail})`;
}

/** A temp folder for a run's agent log and schedule. */
export function defaultOutDir(): string {
  return join(tmpdir(), 'nut-mqtt-bench', `soak-${new Date().toISOString().replace(/[:.]/g, '-')}`);
}
