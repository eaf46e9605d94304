// npm run bench:recovery [-- --trials N --cap S --faults hang,crash,stale --naive-hang-stagger S --warmup S
//                            --jitter MS --seed N --agent-src
//                            --nut 2.8.1|2.8.5 (in the lab's container of that Debian release; default: the host's NUT)]
//
// Time from fault injection to fresh data at upsd, nut-mqtt against the naive upsdrvctl + upsc loop, with
// upsd's default MAXAGE. See bench/lib/trial.ts for what "recovered" means and bench/lib/*Contender.ts for how
// each contender runs NUT.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findUpsd, labProcesses } from '../test/fixtures/labProcs.js';
import { startMosquitto } from '../test/fixtures/mosquitto.js';
import { Rng, randomSeed } from '../test/fixtures/prng.js';
import { UpsdObserver } from '../test/fixtures/upsdObserver.js';
import { AgentContender } from './lib/agentContender.js';
import type { Contender } from './lib/contender.js';
import { NaiveContender } from './lib/naiveContender.js';
import { runBesideRequestedNut } from './lib/nutRelease.js';
import { unexpectedActivity, writeDetails } from './lib/recoveryChecks.js';
import { createRecoveryLab, type RecoveryLab } from './lib/recoveryLab.js';
import { printSummary, printTrials } from './lib/recoveryReport.js';
import {
  boolFlag,
  fmtDuration,
  intFlag,
  onCleanup,
  printHeader,
  runBench,
  stringFlag,
  took,
} from './lib/run.js';
import { type Fault, runSeries, type TrialResult } from './lib/trial.js';

const delegated = await runBesideRequestedNut(import.meta.filename);
if (delegated !== undefined) process.exit(delegated);

const started = Date.now();
const trials = intFlag('trials', 10, 1, 200);
const capMs = intFlag('cap', 90, 5, 600) * 1000;
const stagger = intFlag('naive-hang-stagger', 10, 0, 600) * 1000;
// The agent runs for days; what it learns about each driver (PONG latency, update rhythm) takes it ~20 s. Trials
// right after its start would measure a newly started agent, not one at its defaults in steady state.
const warmupMs = intFlag('warmup', 30, 0, 600) * 1000;
// Each fault waits a random 0–jitter ms after its UPS is ready (the same pauses for both contenders), so faults land
// at random points of the drivers' update cycles (2 s at the default pollinterval), not where the trial before left.
const jitterMs = intFlag('jitter', 2000, 0, 60_000);
const seed = intFlag('seed', randomSeed(), 0, 2 ** 32 - 1);
const faults = stringFlag('faults', 'hang,crash,stale')
  .split(',')
  .map((f) => f.trim()) as Fault[];
if (faults.some((f) => !['hang', 'crash', 'stale'].includes(f)))
  throw new Error('--faults: hang, crash, stale');
const nDummy = Math.min(Math.max(trials, 2), 10);
const nQ1 = Math.min(Math.max(Math.ceil(trials / 3), 1), 4);
const outDir = join(tmpdir(), 'nut-mqtt-bench', `recovery-${new Date().toISOString().replace(/[:.]/g, '-')}`);

async function setup(label: string): Promise<{ rlab: RecoveryLab; observer: UpsdObserver }> {
  const rlab = await createRecoveryLab(label, nDummy, nQ1);
  const observer = new UpsdObserver(rlab.lab.port);
  onCleanup(`observer ${label}`, () => observer.close());
  return { rlab, observer };
}

await runBench(async () => {
  await printHeader('bench:recovery: fault → fresh data, nut-mqtt vs naive upsdrvctl + upsc loop');
  mkdirSync(outDir, { recursive: true });
  process.stdout.write(
    [
      `settings ${trials} trial(s) per fault and contender, cap ${capMs / 1000} s per trial, faults ${faults.join(', ')}`,
      `         each lab: ${nDummy} dummy-ups UPSes (hang, crash; round-robin) + ${nQ1} blazer_ser on Q1 simulators (stale), upsd default MAXAGE`,
      `         nut-mqtt: ${boolFlag('agent-src') ? 'node --import tsx src/cli.ts run' : 'node dist/cli.js run'}, default timings, NUT_USER=root, ${boolFlag('no-mqtt') ? 'MQTT off' : 'MQTT to a private mosquitto on 127.0.0.1'}`,
      `         naive: upsdrvctl -u root start, upsd -F -u root, upsc every 500 ms; naive hang trials ${stagger ? `overlap (a new one every ${stagger / 1000} s, each on its own UPS)` : 'run one after another'}`,
      `         warm-up: ${warmupMs / 1000} s of both contenders running before the first trial (--warmup S)`,
      `         each fault after a random 0–${jitterMs} ms pause once its UPS is ready, the same for both contenders (--jitter MS, seed ${seed}: --seed ${seed} repeats them)`,
      `         logs and per-trial details: ${outDir}`,
      '',
    ].join('\n'),
  );

  // The agent runs as shipped, MQTT bridge included, against a private broker on 127.0.0.1 (--no-mqtt: off).
  const broker = boolFlag('no-mqtt') ? undefined : await startMosquitto();
  const unregisterBroker = onCleanup('broker', () => broker?.stop());
  const a = await setup('A');
  const agent = await AgentContender.start(a.rlab, a.observer, {
    logFile: join(outDir, 'agent.log'),
    fromSource: boolFlag('agent-src'),
    extraEnv: { MQTT_URL: broker?.url ?? '' },
  });
  const mqtt = agent.find(/MQTT broker/).map((l) => l.msg);
  process.stdout.write(
    `agent MQTT: ${broker ? mqtt.join('; ') || 'no MQTT log line yet' : 'off (MQTT_URL empty)'}\n`,
  );
  const b = await setup('B');
  const naive = await NaiveContender.start(b.rlab, b.observer);
  const contenders: Contender[] = [agent, naive];
  const upsdSeen = new Map<string, number[]>(
    contenders.map((c) => [c.name, findUpsd(c.rlab.match).map((p) => p.pid)]),
  );
  process.stdout.write(
    `setup done in ${fmtDuration(Date.now() - started)}; warming up ${warmupMs / 1000} s\n`,
  );
  await new Promise((resolve) => setTimeout(resolve, warmupMs));
  process.stdout.write('running trials\n');

  const results: TrialResult[] = [];
  for (const fault of faults) {
    const rng = new Rng(seed);
    const delays = Array.from({ length: trials }, () => Math.floor(rng.next() * jitterMs));
    for (const c of contenders) {
      const upses = fault === 'stale' ? c.rlab.q1s : c.rlab.dummies;
      const staggerMs = fault === 'hang' && c === naive ? stagger : 0;
      const series = await runSeries(
        c,
        fault,
        upses,
        trials,
        capMs,
        (r) => {
          process.stdout.write(
            `  ${fault} ${c.name} #${r.n} ${r.ups}: ${r.recoveredMs !== undefined ? `recovered in ${(r.recoveredMs / 1000).toFixed(2)} s` : (r.note ?? 'not recovered')}\n`,
          );
        },
        staggerMs,
        delays,
      );
      for (const r of series) upsdSeen.get(c.name)?.push(...r.upsdPids);
      results.push(...series);
      printTrials(fault, c.name, series);
    }
  }
  for (const c of contenders) upsdSeen.get(c.name)?.push(...findUpsd(c.rlab.match).map((p) => p.pid));
  printSummary(results, faults, [agent.name, naive.name], capMs, {
    agentHangMedianMs: 3000,
    agentCrashMedianMs: 2500,
    hangSpeedup: 2.5,
    staleSpeedup: 1.1,
  });

  const activity = unexpectedActivity(agent, naive, results, capMs);
  process.stdout.write(`\nOutside the fault windows\n${activity.map((l) => `  ${l}`).join('\n')}\n`);

  process.stdout.write('\nupsd and leftovers\n');
  for (const c of contenders) {
    const pids = [...new Set(upsdSeen.get(c.name))];
    const how = await c.stop();
    // socat belongs to the simulators, and the naive contender's upsd to the harness (the lab stops both).
    const byContender = labProcesses(c.rlab.match).filter(
      (p) => !p.argv[0]?.endsWith('socat') && !(c === naive && p.pid === naive.upsdPid),
    );
    const afterLab = await c.rlab.stop();
    const lines = [
      `  ${c.name}: upsd pid ${pids.length === 1 ? `unchanged (${pids[0]})` : `CHANGED: ${pids.join(' → ') || 'none seen'}`}`,
      `  ${c.name}: stop: ${how}`,
      `  ${c.name}: NUT processes left after the contender stopped: ${byContender.length}${byContender.length ? ` (${byContender.map((p) => `${p.pid} ${p.argv.join(' ')}`).join('; ')})` : ''}`,
      `  ${c.name}: processes of its lab left after the harness stopped the lab: ${afterLab.length}${afterLab.length ? ` (${afterLab.join('; ')}; killed)` : ''}`,
      `  ${c.name}: leftover drivers the harness killed between trials: ${results.filter((r) => r.contender === c.name).reduce((n, r) => n + r.leftovers.length, 0)}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  await broker?.stop();
  unregisterBroker();
  writeDetails(join(outDir, 'details.txt'), results);
  process.stdout.write(`\n${took('bench:recovery', started)}; details in ${outDir}\n`);
});
