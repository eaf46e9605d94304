// npm run soak -- [--upses 5] [--faults 200] [--seed N] [--cap 60] [--gap 1-5] [--kinds hang,crash,…]
//                 [--settle 90] [--cooldown 10] [--no-q1] [--fast] [--agent-src] [--out DIR]
//
// Fault-injection soak (issue #5): real Mosquitto, the agent as a subprocess (`node dist/cli.js run`) owning upsd
// and N dummy-ups drivers plus one blazer_ser driver on the Q1 simulator, and an outside MQTT client watching
// `nut/#`. Faults — driver hang (SIGSTOP), driver crash (SIGKILL), stale while alive (the Q1 UPS goes silent until
// the driver that saw it is restarted), upsd SIGKILL, broker restart, restart command over MQTT — are drawn from
// the seed and injected ONE AT A TIME: each waits until everything is healthy again, then a random pause, then the
// fault, timed until fresh data is back as seen from outside (capped per fault). Prints a summary table with the
// targets; exits 0 whenever the report was produced (a missed target is a finding, not a harness failure), 1 when
// the harness itself failed, 130 on Ctrl-C. Everything started is stopped by pid, on errors and Ctrl-C too.
// --settle S: how long to wait for everything to be healthy before a fault; --cooldown S: the agent's
// COMMAND_COOLDOWN, which a restart command respects; --fast: the tests' timings. result.json in the output
// folder holds every figure and the targets (test/integration/soak.test.ts reads it).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomSeed } from '../test/fixtures/prng.js';
import { boolFlag, checkFlags, intFlag, runBench, stringFlag } from './lib/run.js';
import { FAULT_KINDS, type FaultKind } from './soakLib/faults.js';
import { formatReport, targets } from './soakLib/report.js';
import { defaultOutDir, Soak, type SoakOptions } from './soakLib/runner.js';

function usage(message: string): never {
  process.stderr.write(`soak: ${message}\n(see the comment at the top of bench/soak.ts)\n`);
  process.exit(2);
}

function options(): SoakOptions {
  checkFlags([
    'upses',
    'faults',
    'seed',
    'cap',
    'gap',
    'kinds',
    'settle',
    'cooldown',
    'no-q1',
    'fast',
    'agent-src',
    'out',
  ]);
  const gap = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(stringFlag('gap', '1-5'));
  if (!gap || Number(gap[1]) > Number(gap[2])) usage('--gap must look like 1-5 (seconds)');
  const kinds = stringFlag('kinds', FAULT_KINDS.join(','))
    .split(',')
    .map((k) => k.trim()) as FaultKind[];
  for (const k of kinds) if (!FAULT_KINDS.includes(k)) usage(`--kinds: ${k}? (${FAULT_KINDS.join(', ')})`);
  const q1 = !boolFlag('no-q1');
  if (!q1 && kinds.includes('stale') && stringFlag('kinds', '') !== '')
    usage('the stale fault needs the Q1 UPS (drop --no-q1)');
  // Injected faults come far faster than a real UPS fails: the circuit breaker (5 restarts in 5 min by default)
  // would open on purpose and leave a UPS "failed" for FAILED_RETRY. It is tested on its own
  // (test/integration/recovery); here it is raised so that every fault is a recovery. Everything else is the
  // production default unless --fast (the tests' timings).
  const fast = boolFlag('fast');
  const agentEnv: Record<string, string> = {
    BREAKER_RESTARTS: '1000',
    ...(fast
      ? { POLL_INTERVAL: '500', STALE_GRACE: '1000', BACKOFF_INITIAL: '500', BACKOFF_MAX: '4000' }
      : {}),
  };
  return {
    upses: intFlag('upses', 5, 1, 50),
    q1,
    faults: intFlag('faults', 200, 1, 10_000),
    seed: intFlag('seed', randomSeed(), 0, 2 ** 32 - 1),
    kinds,
    capMs: intFlag('cap', 60, 5, 600) * 1000,
    gapMs: [Number(gap[1]) * 1000, Number(gap[2]) * 1000],
    settleTimeoutMs: intFlag('settle', 90, 10, 600) * 1000,
    agentEnv,
    commandCooldownMs: intFlag('cooldown', 10, 0, 600) * 1000,
    agentFromSource: boolFlag('agent-src'),
    outDir: stringFlag('out', '') || defaultOutDir(),
    log: (line) => process.stdout.write(`${line}\n`),
  };
}

let o: SoakOptions;
try {
  o = options();
} catch (error) {
  usage((error as Error).message);
}
const soak = new Soak(o);
await runBench(
  async () => {
    const started = Date.now();
    const env = Object.entries(o.agentEnv)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    process.stdout.write(
      [
        `nut-mqtt soak — ${new Date().toISOString()}`,
        `seed ${o.seed} (repeat with --seed ${o.seed})`,
        `${o.faults} fault(s) of ${o.kinds.join(', ')}; ${o.upses} dummy-ups UPS(es)${o.q1 ? ' + 1 blazer_ser (Q1 simulator)' : ''}`,
        `one fault at a time: healthy again → random pause ${o.gapMs.map((ms) => ms / 1000).join('-')} s → fault → fresh data (cap ${o.capMs / 1000} s)`,
        `agent: node ${o.agentFromSource ? '--import tsx src/cli.ts' : 'dist/cli.js'} run, defaults except ${env} COMMAND_COOLDOWN=${o.commandCooldownMs}`,
        `output: ${o.outDir}`,
        '',
      ].join('\n'),
    );
    const result = await soak.run();
    if (result.aborted) return; // Ctrl-C: runBench is cleaning up and exits 130
    const report = formatReport(result);
    process.stdout.write(`${report}\n\nsoak took ${((Date.now() - started) / 60_000).toFixed(1)} min\n`);
    writeFileSync(join(o.outDir, 'report.txt'), `${report}\n`);
    const json = { ...result, targets: targets(result) };
    writeFileSync(join(o.outDir, 'result.json'), `${JSON.stringify(json, null, 2)}\n`);
  },
  () => soak.abort(),
);
