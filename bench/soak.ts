// npm run soak -- [--upses 5] [--faults 200] [--seed N] [--cap 60] [--gap 1-5] [--kinds hang,crash,…]
//                 [--no-q1] [--fast] [--agent-src] [--out DIR]
//
// Fault-injection soak (issue #5): real Mosquitto, the agent as a subprocess (`node dist/cli.js run`) owning upsd
// and N dummy-ups drivers plus one blazer_ser driver on the Q1 simulator, and an outside MQTT client watching
// `nut/#`. Faults — driver hang (SIGSTOP), driver crash (SIGKILL), stale while alive (the Q1 UPS goes silent until
// the driver that saw it is restarted), upsd SIGKILL, broker restart, restart command over MQTT — are drawn from
// the seed and injected ONE AT A TIME: each waits until everything is healthy again, then a random pause, then the
// fault, timed until fresh data is back as seen from outside (capped per fault). Prints a summary table with the
// targets; exits 0 whenever the report was produced (a missed target is a finding, not a harness failure), 1 when
// the harness itself failed, 130 on Ctrl-C. Everything started is stopped by pid, on errors and Ctrl-C too.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomSeed } from '../test/fixtures/prng.js';
import { FAULT_KINDS, type FaultKind } from './soakLib/faults.js';
import { formatReport } from './soakLib/report.js';
import { defaultOutDir, Soak, type SoakOptions } from './soakLib/runner.js';

function usage(message: string): never {
  process.stderr.write(`soak: ${message}\n(see the comment at the top of bench/soak.ts)\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Map<string, string | true> {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) usage(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf('=');
    if (eq > 0) flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    else if (argv[i + 1] !== undefined && !(argv[i + 1] as string).startsWith('--'))
      flags.set(arg.slice(2), argv[++i] as string);
    else flags.set(arg.slice(2), true);
  }
  const known = ['upses', 'faults', 'seed', 'cap', 'gap', 'kinds', 'no-q1', 'fast', 'agent-src', 'out'];
  for (const k of flags.keys()) if (!known.includes(k)) usage(`unknown option --${k}`);
  return flags;
}

const flags = parseArgs(process.argv.slice(2));
function int(name: string, def: number, min: number, max: number): number {
  const v = flags.get(name);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) usage(`--${name} must be an integer in ${min}..${max}`);
  return n;
}
const bool = (name: string): boolean => flags.get(name) === true;

const gapText = String(flags.get('gap') ?? '1-5');
const gap = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(gapText);
if (!gap || Number(gap[1]) > Number(gap[2])) usage('--gap must look like 1-5 (seconds)');
const kinds = String(flags.get('kinds') ?? FAULT_KINDS.join(','))
  .split(',')
  .map((k) => k.trim()) as FaultKind[];
for (const k of kinds) if (!FAULT_KINDS.includes(k)) usage(`--kinds: ${k}? (${FAULT_KINDS.join(', ')})`);
const q1 = !bool('no-q1');
if (!q1 && kinds.includes('stale') && flags.has('kinds'))
  usage('the stale fault needs the Q1 UPS (drop --no-q1)');

const fast = bool('fast');
// Injected faults come far faster than a real UPS fails: the circuit breaker (5 restarts in 5 min by default) would
// open on purpose and leave a UPS "failed" for FAILED_RETRY. It is tested on its own (test/integration/recovery);
// here it is raised so that every fault is a recovery. Everything else is the production default unless --fast.
const agentEnv: Record<string, string> = {
  BREAKER_RESTARTS: '1000',
  ...(fast ? { POLL_INTERVAL: '500', STALE_GRACE: '1000', BACKOFF_INITIAL: '500', BACKOFF_MAX: '4000' } : {}),
};
const options: SoakOptions = {
  upses: int('upses', 5, 1, 50),
  q1,
  faults: int('faults', 200, 1, 10_000),
  seed: int('seed', randomSeed(), 0, 2 ** 32 - 1),
  kinds,
  capMs: int('cap', 60, 5, 600) * 1000,
  gapMs: [Number(gap[1]) * 1000, Number(gap[2]) * 1000],
  settleTimeoutMs: 90_000,
  agentEnv,
  commandCooldownMs: 10_000,
  agentFromSource: bool('agent-src'),
  outDir: typeof flags.get('out') === 'string' ? String(flags.get('out')) : defaultOutDir(),
  log: (line) => process.stdout.write(`${line}\n`),
};

const soak = new Soak(options);
let interrupted = false;
const onSignal = (signal: NodeJS.Signals): void => {
  if (interrupted) {
    process.stderr.write(`\n${signal} again: still cleaning up (bounded), please wait\n`);
    return;
  }
  interrupted = true;
  process.stderr.write(`\n${signal}: stopping the soak and everything it started…\n`);
  soak.abort();
  void soak.cleanup.run().then(() => process.exit(130));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const started = Date.now();
const env = Object.entries(agentEnv)
  .map(([k, v]) => `${k}=${v}`)
  .join(' ');
process.stdout.write(
  [
    `nut-mqtt soak — ${new Date().toISOString()}`,
    `seed ${options.seed} (repeat with --seed ${options.seed})`,
    `${options.faults} fault(s) of ${kinds.join(', ')}; ${options.upses} dummy-ups UPS(es)${q1 ? ' + 1 blazer_ser (Q1 simulator)' : ''}`,
    `one fault at a time: healthy again → random pause ${gapText} s → fault → fresh data (cap ${options.capMs / 1000} s)`,
    `agent: node ${options.agentFromSource ? '--import tsx src/cli.ts' : 'dist/cli.js'} run, defaults except ${env}`,
    `output: ${options.outDir}`,
    '',
  ].join('\n'),
);

try {
  const result = await soak.run();
  if (interrupted) await new Promise(() => undefined); // the signal handler exits
  const report = formatReport(result);
  process.stdout.write(`${report}\n\nsoak took ${((Date.now() - started) / 60_000).toFixed(1)} min\n`);
  writeFileSync(join(options.outDir, 'report.txt'), `${report}\n`);
  writeFileSync(join(options.outDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
  process.exit(0);
} catch (error) {
  if (interrupted) await new Promise(() => undefined);
  process.stderr.write(`\nsoak harness failed: ${(error as Error).stack ?? String(error)}\n`);
  await soak.cleanup.run();
  process.exit(1);
}
