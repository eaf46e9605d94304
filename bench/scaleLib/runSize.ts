// One size of the scale bench: a private Mosquitto, a lab of N dummy-ups UPSes, the agent as a subprocess
// (`node dist/cli.js run`), an outside MQTT subscriber, a measured window with .dev changes, then everything stopped
// and the lab checked for leftover processes.
import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentProcess } from '../../test/fixtures/agentCli.js';
import { Cleanup } from '../../test/fixtures/cleanup.js';
import { labProcesses, sweepLab } from '../../test/fixtures/labProcs.js';
import { startMqttLab } from '../../test/fixtures/mqttAgent.js';
import { sleep } from '../../test/fixtures/proc.js';
import { onCleanup } from '../lib/run.js';
import { type Change, ChangeDriver } from './changes.js';
import { type ProfileSummary, summarizeProfile } from './cpuProfile.js';
import { cpuDelta, cpuOf, cpuPercent, RssSampler } from './procStats.js';

const BASE = 'nut';
/** The agent's upsd poll (the issue: "1 s polls"). */
export const POLL_INTERVAL_MS = 1000;

export interface SizeOptions {
  size: number;
  seconds: number;
  /** dummy-ups pollinterval (ups.conf), seconds. */
  driverPoll: number;
  settleSeconds: number;
  startupTimeoutMs: number;
  upsdProbe: boolean;
  profile: boolean;
  /** Where logs and profiles are kept after the run. */
  outDir: string;
}

export interface SizeResult {
  size: number;
  startupMs?: number;
  windowMs: number;
  agentCpuPct: number;
  agentRssMaxMib: number;
  agentRssStartMib: number;
  agentRssEndMib: number;
  nutCpuPct: number;
  nutProcesses: number;
  messages: number;
  messagesPerSec: number;
  changes: Change[];
  agentWarnings: string[];
  agentExit: string;
  leftovers: string[];
  profile?: { file: string; summary: ProfileSummary };
  error?: string;
}

function log(text: string): void {
  process.stdout.write(`${text}\n`);
}

export async function runSize(opts: SizeOptions): Promise<SizeResult> {
  const { size } = opts;
  const names = Array.from({ length: size }, (_, i) => `ups${i + 1}`);
  const result: SizeResult = {
    size,
    windowMs: 0,
    agentCpuPct: 0,
    agentRssMaxMib: 0,
    agentRssStartMib: 0,
    agentRssEndMib: 0,
    nutCpuPct: 0,
    nutProcesses: 0,
    messages: 0,
    messagesPerSec: 0,
    changes: [],
    agentWarnings: [],
    agentExit: 'not started',
    leftovers: [],
  };

  // Everything of this size, stopped at its end (or by the bench's cleanup on Ctrl-C).
  const cleanup = new Cleanup();
  const unregister = onCleanup(`scale ${size}`, () => cleanup.run().then(() => undefined));
  let match: { confPath: string; dirs: string[] } | undefined;
  try {
    const {
      broker,
      lab,
      obs: mqtt,
    } = await startMqttLab(
      {
        upses: names.map((name) => ({ name, options: { pollinterval: String(opts.driverPoll) } })),
        observe: [`${BASE}/#`],
        observer: { reconnectPeriodMs: 1000 },
      },
      cleanup,
    );
    match = { confPath: lab.confPath, dirs: [lab.dir] };
    const online = () =>
      names.filter((u) => mqtt.latest(`${BASE}/${u}/availability`)?.text === 'online').length;

    // --- the agent, a subprocess ---------------------------------------------------------------------------------
    const profDir = join(lab.dir, 'prof');
    await mkdir(profDir);
    const logFile = join(opts.outDir, `agent-${size}.log`);
    const spawnedAt = Date.now();
    const agent = new AgentProcess({
      env: {
        ...lab.env,
        NUT_USER: 'root',
        MQTT_URL: broker.url,
        POLL_INTERVAL: String(POLL_INTERVAL_MS),
        LOG_LEVEL: 'warn',
      },
      logFile,
      nodeArgs: opts.profile ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [],
    });
    const { pid } = agent;
    const exited = (): string | undefined =>
      agent.exit && (agent.exit.signal ? `signal ${agent.exit.signal}` : `code ${agent.exit.code}`);
    cleanup.add('agent', () => agent.stop().then(() => undefined));

    // --- start-up: spawn → every UPS `online` on MQTT ---------------------------------------------------------------
    const startDeadline = spawnedAt + opts.startupTimeoutMs;
    let lastReport = Date.now();
    while (online() < size && Date.now() < startDeadline && exited() === undefined) {
      await sleep(50);
      if (Date.now() - lastReport > 15_000) {
        lastReport = Date.now();
        log(`  … ${online()}/${size} online after ${Math.round((Date.now() - spawnedAt) / 1000)} s`);
      }
    }
    if (exited() !== undefined)
      throw new Error(`the agent exited during start-up (${exited()}); see ${logFile}`);
    if (online() < size)
      throw new Error(
        `only ${online()}/${size} UPSes online after ${opts.startupTimeoutMs} ms; see ${logFile}`,
      );
    result.startupMs = Date.now() - spawnedAt;
    log(`  all ${size} online on MQTT ${(result.startupMs / 1000).toFixed(1)} s after spawn`);
    await sleep(opts.settleSeconds * 1000);

    // --- the measured window ---------------------------------------------------------------------------------------
    const nutPids = labProcesses(match)
      .filter((p) => p.pid !== pid && p.ppid === pid)
      .map((p) => p.pid);
    result.nutProcesses = nutPids.length;
    const changes = new ChangeDriver(lab, names, {
      driverCycleMs: Math.max(1, opts.driverPoll) * 1000,
      upsdProbe: opts.upsdProbe,
    });
    const stateTopics = new Map(names.map((u) => [`${BASE}/${u}`, u]));
    const unlisten = mqtt.listen((m) => {
      const ups = stateTopics.get(m.topic);
      if (ups === undefined) return;
      try {
        changes.onState(ups, JSON.parse(m.text) as Record<string, unknown>, m.t);
      } catch {
        // not JSON: not a state message we can use
      }
    });
    const rss = new RssSampler(pid);
    const windowStart = Date.now();
    const agentCpu0 = cpuOf([pid]);
    const nutCpu0 = cpuOf(nutPids);
    await changes.run(windowStart + opts.seconds * 1000);
    const windowEnd = Date.now();
    const agentCpu1 = cpuOf([pid]);
    const nutCpu1 = cpuOf(nutPids);
    rss.stop();
    result.windowMs = windowEnd - windowStart;
    result.agentCpuPct = cpuPercent(cpuDelta(agentCpu0, agentCpu1), result.windowMs);
    result.nutCpuPct = cpuPercent(cpuDelta(nutCpu0, nutCpu1), result.windowMs);
    result.agentRssMaxMib = rss.maxKib / 1024;
    result.agentRssStartMib = rss.firstKib / 1024;
    result.agentRssEndMib = rss.lastKib / 1024;
    result.messages = mqtt.messages.filter((m) => m.t >= windowStart && m.t < windowEnd).length;
    result.messagesPerSec = result.messages / (result.windowMs / 1000);
    await changes.drain();
    unlisten();
    result.changes = changes.changes;
    if (exited() !== undefined)
      throw new Error(`the agent exited during the window (${exited()}); see ${logFile}`);

    // --- stop the agent, then nothing of this lab may be left --------------------------------------------------------
    result.agentExit = (await agent.stop(60_000)).summary;
    // The agent stops every NUT process before it exits; give the kernel a moment to reap them.
    result.leftovers = (await sweepLab(match, 5000)).map((p) => `${p.pid} ${p.argv.join(' ')}`);

    result.agentWarnings = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');

    if (opts.profile) {
      const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      if (file) {
        const kept = join(opts.outDir, `agent-${size}.cpuprofile`);
        copyFileSync(join(profDir, file), kept);
        // Only the measured window (offsets from spawn; the profiler starts within a few ms of it).
        const summary = summarizeProfile(kept, {
          fromMs: windowStart - spawnedAt,
          toMs: windowEnd - spawnedAt,
        });
        result.profile = { file: kept, summary };
      }
    }
  } catch (error) {
    result.error = (error as Error).message;
  } finally {
    if (match) {
      const left = await sweepLab(match);
      result.leftovers.push(...left.map((p) => `${p.pid} ${p.argv.join(' ')} (after an error)`));
    }
    await cleanup.run();
    unregister();
  }
  return result;
}
