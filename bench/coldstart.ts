// npm run bench:coldstart [-- --trials 5]
//
// The first minute as a new user lives it: each trial is a fresh install — a new NUT lab (one dummy-ups UPS with
// CyberPower data), no energy state file — and the agent as shipped (`dist/cli.js run`, a subprocess, the schema's
// default timings) against a private Mosquitto. Times are from the agent's spawn: the driver's start (its log line),
// the first UPS state on MQTT that carries the driver's data, the first state the agent calls fresh
// (`supervisor.state` ok) and availability `online`. The targets: online at most 0.3 s after the data, and
// not one warning in the log of a fresh start.
import { join } from 'node:path';
import { AgentProcess, groupWarnings, type LogLine, parseLogLine } from '../test/fixtures/agentCli.js';
import { startMosquitto } from '../test/fixtures/mosquitto.js';
import { json, observe } from '../test/fixtures/mqttObserver.js';
import { createNutLab } from '../test/fixtures/nutLab.js';
import { fmtSec, max, median, printTable, verdict } from '../test/fixtures/stats.js';
import { checkFlags, intFlag, onCleanup, printHeader, runBench, took } from './lib/run.js';

checkFlags(['trials']);
const started = Date.now();
const trials = intFlag('trials', 5, 1, 100);
const UPS = 'ups';
/** The reference: agent start → first fresh state on MQTT, measured on the seed. */
const SEED_MS = 2100;
const ONLINE_AFTER_DATA_TARGET_MS = 300;

interface Trial {
  /** The agent's first log line: Node is up and its modules are loaded. */
  startingAt?: number;
  driverAt?: number;
  dataAt?: number;
  freshAt?: number;
  onlineAt?: number;
  startupMs?: number;
  warnings: string[];
}

async function trial(brokerUrl: string, n: number): Promise<Trial> {
  const lab = await createNutLab({ upses: [{ name: UPS }] });
  const unregisterLab = onCleanup(`lab ${n}`, () => lab.stop());
  const base = `cold${n}`;
  const obs = await observe({ url: brokerUrl }, [`${base}/#`]);
  const lines: LogLine[] = [];
  const t0 = Date.now();
  const agent = new AgentProcess({
    env: { ...lab.env, NUT_USER: 'root', MQTT_URL: brokerUrl, MQTT_BASE_TOPIC: base, LOG_LEVEL: 'info' },
    logFile: join(lab.dir, 'agent.log'),
    onLine: (line) => {
      const entry = parseLogLine(line);
      if (entry) lines.push(entry);
    },
  });
  const unregisterAgent = onCleanup(`agent ${n}`, async () => {
    await agent.stop(15_000);
  });
  try {
    const online = await obs.waitFor(`${base}/${UPS}/availability`, (m) => m.text === 'online', {
      timeoutMs: 60_000,
    });
    const states = obs.on(`${base}/${UPS}`).map((m) => ({ t: m.t, s: json(m) }));
    const data = states.find(({ s }) => s['ups.status'] !== undefined && s['ups.status'] !== 'WAIT');
    const fresh = states.find(({ s }) => (s.supervisor as { state?: string })?.state === 'ok');
    const starting = lines[0];
    const driver = lines.find((l) => l.msg === 'started dummy-ups');
    const ready = lines.find((l) => /^first fresh data \d+ ms/.test(l.msg));
    return {
      ...(starting ? { startingAt: starting.t - t0 } : {}),
      ...(driver ? { driverAt: driver.t - t0 } : {}),
      ...(data ? { dataAt: data.t - t0 } : {}),
      ...(fresh ? { freshAt: fresh.t - t0 } : {}),
      onlineAt: online.t - t0,
      ...(ready ? { startupMs: Number(ready.fields.startupMs) } : {}),
      warnings: groupWarnings(lines).map((g) => `${g.level}: ${g.message}`),
    };
  } finally {
    await agent.stop(15_000);
    unregisterAgent();
    await obs.stop();
    await lab.stop();
    unregisterLab();
  }
}

await runBench(async () => {
  await printHeader('bench:coldstart: agent start → first fresh UPS state on MQTT (a fresh install)');
  process.stdout.write(
    `settings ${trials} trials; each a new NUT lab (1 dummy-ups UPS), no energy.json, dist/cli.js as a subprocess with the default timings, a private Mosquitto on 127.0.0.1\n`,
  );
  const broker = await startMosquitto();
  onCleanup('broker', () => broker.stop());
  const results: Trial[] = [];
  for (let i = 1; i <= trials; i++) results.push(await trial(broker.url, i));

  const gap = (t: Trial) =>
    t.onlineAt !== undefined && t.dataAt !== undefined ? t.onlineAt - t.dataAt : undefined;
  const inAgent = (t: Trial) =>
    t.freshAt !== undefined && t.startingAt !== undefined ? t.freshAt - t.startingAt : undefined;
  const rows = results.map((t, i) => [
    String(i + 1),
    fmtSec(t.startingAt),
    fmtSec(t.driverAt),
    fmtSec(t.dataAt),
    fmtSec(t.freshAt),
    fmtSec(t.onlineAt),
    fmtSec(gap(t)),
    fmtSec(inAgent(t)),
    t.startupMs === undefined ? '-' : fmtSec(t.startupMs),
    String(t.warnings.length),
  ]);
  const col = (f: (t: Trial) => number | undefined) =>
    results.map(f).filter((v): v is number => v !== undefined);
  rows.push([
    'median',
    fmtSec(median(col((t) => t.startingAt))),
    fmtSec(median(col((t) => t.driverAt))),
    fmtSec(median(col((t) => t.dataAt))),
    fmtSec(median(col((t) => t.freshAt))),
    fmtSec(median(col((t) => t.onlineAt))),
    fmtSec(median(col(gap))),
    fmtSec(median(col(inAgent))),
    fmtSec(median(col((t) => t.startupMs))),
    '',
  ]);
  printTable(
    'From the agent’s spawn: its first log line (Node up), driver started, first state with data, first fresh state (ok), availability online; fresh from the first log line; the ready event’s startup_ms (driver start → fresh)',
    [
      'trial',
      'log',
      'driver',
      'data',
      'fresh',
      'online',
      'online − data',
      'fresh − log',
      'ready startup_ms',
      'warnings',
    ],
    rows,
  );
  const warnings = [...new Set(results.flatMap((t) => t.warnings))];
  if (warnings.length > 0) process.stdout.write(`\nwarnings seen:\n  ${warnings.join('\n  ')}\n`);
  const worstGap = max(col(gap));
  process.stdout.write(
    [
      '',
      `reference (seed): agent start → first fresh state on MQTT ${fmtSec(SEED_MS)}; here median ${fmtSec(median(col((t) => t.freshAt)))} from the spawn, ${fmtSec(median(col(inAgent)))} from the agent's first log line`,
      `target: availability online ≤ ${ONLINE_AFTER_DATA_TARGET_MS} ms after the first data (worst ${fmtSec(worstGap)}): ${verdict(worstGap === undefined ? undefined : worstGap <= ONLINE_AFTER_DATA_TARGET_MS)}`,
      `target: no warning in a fresh start's log (${warnings.length} kinds): ${verdict(warnings.length === 0)}`,
      took('bench:coldstart', started),
      '',
    ].join('\n'),
  );
});
