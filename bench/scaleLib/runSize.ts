// One size of the scale bench: a private Mosquitto, a lab of N dummy-ups UPSes, the agent as a subprocess
// (`node dist/cli.js run`), an outside MQTT subscriber, a measured window with .dev changes, then everything stopped
// and the lab checked for leftover processes.
import { copyFileSync, createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { type Broker, startMosquitto } from '../../test/fixtures/mosquitto.js';
import { createNutLab, type LabUps, type NutLab } from '../../test/fixtures/nutLab.js';
import { onCleanup } from '../lib/cleanup.js';
import { sleep } from '../lib/header.js';
import { isAlive, killHard, type LabMatch, labProcesses, sweepLab, waitGone } from '../lib/procs.js';
import { type Change, ChangeDriver } from './changes.js';
import { type ProfileSummary, summarizeProfile } from './cpuProfile.js';
import { cpuDelta, cpuOf, cpuPercent, RssSampler } from './procStats.js';
import { MqttWatcher } from './watcher.js';

const REPO = new URL('../..', import.meta.url).pathname;
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

  let broker: Broker | undefined;
  let lab: NutLab | undefined;
  let watcher: MqttWatcher | undefined;
  const match: LabMatch = { confPath: '', dirs: [] };
  const unregister = onCleanup(`scale ${size}`, async () => {
    if (match.confPath) await sweepLab(match);
    await watcher?.stop().catch(() => undefined);
    await lab?.stop().catch(() => undefined);
    await broker?.stop().catch(() => undefined);
  });

  try {
    broker = await startMosquitto();
    const upses: LabUps[] = names.map((name) => ({
      name,
      options: { pollinterval: String(opts.driverPoll) },
    }));
    lab = await createNutLab({ upses });
    match.confPath = lab.confPath;
    match.dirs = [lab.dir];
    watcher = await MqttWatcher.start(broker.url, BASE, names);

    // --- the agent, a subprocess ---------------------------------------------------------------------------------
    const profDir = join(lab.dir, 'prof');
    await mkdir(profDir);
    const logFile = join(opts.outDir, `agent-${size}.log`);
    const logStream = createWriteStream(logFile);
    const args = [...(opts.profile ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []), 'dist/cli.js', 'run'];
    const spawnedAt = Date.now();
    const child = execa(process.execPath, args, {
      cwd: REPO,
      env: {
        PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        ...lab.env,
        NUT_USER: 'root',
        MQTT_URL: broker.url,
        POLL_INTERVAL: String(POLL_INTERVAL_MS),
        LOG_LEVEL: 'warn',
      },
      extendEnv: false,
      stdin: 'ignore',
      buffer: false,
      reject: false,
      forceKillAfterDelay: false,
    });
    const pid = child.pid ?? 0;
    let exited: string | undefined;
    void child.then((r) => {
      exited = r.signal ? `signal ${r.signal}` : `code ${r.exitCode}`;
    });
    child.stdout?.on('data', (chunk: Buffer) => logStream.write(chunk));
    child.stderr?.on('data', (chunk: Buffer) => logStream.write(chunk));
    const unregisterAgent = onCleanup(`agent of scale ${size}`, async () => {
      if (!isAlive(pid)) return;
      process.kill(pid, 'SIGTERM');
      if (!(await waitGone(pid, 30_000))) await killHard(pid);
    });

    // --- start-up: spawn → every UPS `online` on MQTT ---------------------------------------------------------------
    const startDeadline = spawnedAt + opts.startupTimeoutMs;
    let lastReport = Date.now();
    while (!watcher.allOnline() && Date.now() < startDeadline && exited === undefined) {
      await sleep(50);
      if (Date.now() - lastReport > 15_000) {
        lastReport = Date.now();
        log(
          `  … ${watcher.onlineCount()}/${size} online after ${Math.round((Date.now() - spawnedAt) / 1000)} s`,
        );
      }
    }
    if (exited !== undefined) throw new Error(`the agent exited during start-up (${exited}); see ${logFile}`);
    if (!watcher.allOnline())
      throw new Error(
        `only ${watcher.onlineCount()}/${size} UPSes online after ${opts.startupTimeoutMs} ms; see ${logFile}`,
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
    watcher.onState((ups, state, t) => changes.onState(ups, state, t));
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
    result.messages = watcher.countBetween(windowStart, windowEnd);
    result.messagesPerSec = result.messages / (result.windowMs / 1000);
    await changes.drain();
    watcher.onState(undefined);
    result.changes = changes.changes;
    if (exited !== undefined)
      throw new Error(`the agent exited during the window (${exited}); see ${logFile}`);

    // --- stop the agent, then nothing of this lab may be left --------------------------------------------------------
    const stopAt = Date.now();
    if (isAlive(pid)) process.kill(pid, 'SIGTERM');
    const graceful = await waitGone(pid, 60_000);
    if (!graceful) await killHard(pid);
    await Promise.race([child, sleep(3000)]);
    unregisterAgent();
    result.agentExit = graceful
      ? `exited (${exited ?? '?'}) ${((Date.now() - stopAt) / 1000).toFixed(1)} s after SIGTERM`
      : 'did NOT exit within 60 s of SIGTERM: SIGKILLed';
    await new Promise<void>((resolve) => logStream.end(resolve));
    // The agent stops every NUT process before it exits; give the kernel a moment to reap them.
    const leftDeadline = Date.now() + 5000;
    let left = labProcesses(match);
    while (left.length > 0 && Date.now() < leftDeadline) {
      await sleep(100);
      left = labProcesses(match);
    }
    result.leftovers = left.map((p) => `${p.pid} ${p.argv.join(' ')}`);
    if (left.length > 0) await sweepLab(match);

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
    if (match.confPath) {
      const left = labProcesses(match);
      if (left.length > 0) {
        result.leftovers.push(...left.map((p) => `${p.pid} ${p.argv.join(' ')} (after an error)`));
        await sweepLab(match);
      }
    }
    await watcher?.stop().catch(() => undefined);
    await lab?.stop().catch(() => undefined);
    await broker?.stop().catch(() => undefined);
    unregister();
  }
  return result;
}
