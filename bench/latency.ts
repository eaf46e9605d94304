// npm run bench:latency [-- --changes 50 --upses 3]
//
// Time from a status change accepted by upsd to the agent's `status-changed` event. The agent runs in-process
// (test/fixtures/agent.ts) with the schema's default timings, on a lab of dummy-ups `.dev` UPSes. Each change is
// `upsrw -s ups.status=OB|OL -u admin -p … <ups>@127.0.0.1:<port>`; "accepted" = upsrw returned and printed OK.
// upsd forwards the SET to the driver, which broadcasts SETINFO to all its socket clients (upsd and the agent's
// probe connection). An independent observer polls GET VAR every 10 ms to see when upsd serves the new value.
import { execa } from 'execa';
import { loadConfig } from '../src/config/load.js';
import { type RecordedEvent, startAgent } from '../test/fixtures/agent.js';
import { labProcesses } from '../test/fixtures/labProcs.js';
import { startMosquitto } from '../test/fixtures/mosquitto.js';
import { processAlive, sleep } from '../test/fixtures/proc.js';
import { fmtMs, max, median, min, percentile, printTable, verdict } from '../test/fixtures/stats.js';
import { UpsdObserver } from '../test/fixtures/upsdObserver.js';
import { boolFlag, dummyLab, intFlag, onCleanup, printHeader, runBench, took } from './lib/run.js';

const started = Date.now();
const nChanges = intFlag('changes', 50, 1, 10_000);
const nUps = intFlag('upses', 3, 1, 50);
const TARGET_MS = 100;
const EVENT_TIMEOUT_MS = 10_000;

interface Change {
  ups: string;
  to: string;
  spawnedAt: number;
  okAt: number;
  upsdAt?: number;
  eventAt?: number;
  source?: string;
}

await runBench(async () => {
  await printHeader('bench:latency: status change accepted by upsd → agent status-changed event');
  const { lab, upses, stop: stopLab } = await dummyLab(nUps);
  const match = { confPath: lab.confPath, dirs: [lab.dir] };
  // The agent as shipped, MQTT bridge included, against a private broker on 127.0.0.1 (--no-mqtt: off).
  const broker = boolFlag('no-mqtt') ? undefined : await startMosquitto();
  const unregisterBroker = onCleanup('broker', () => broker?.stop());
  const env = { ...lab.env, NUT_USER: 'root', MQTT_URL: broker?.url ?? '' };
  // startAgent applies quick test timings; put the schema defaults back (nothing set in the environment).
  const defaults = loadConfig({ env }).config.supervisor;
  const agent = await startAgent(lab, { timings: { ...defaults }, env: { MQTT_URL: env.MQTT_URL } });
  const unregisterAgent = onCleanup('agent', () => agent.stop());
  for (const u of upses) await agent.waitForEvent('ready', (p) => p.ups === u, { timeoutMs: 30_000 });
  await sleep(2000); // let start-up work (first polls, MQTT discovery) settle
  const observer = new UpsdObserver(lab.port);
  const unregisterObserver = onCleanup('observer', () => observer.close());
  process.stdout.write(
    `settings ${nChanges} changes over ${nUps} dummy-ups UPSes (round-robin, OL ⇄ OB, 150–650 ms apart); agent in-process (${broker ? 'MQTT to a private mosquitto on 127.0.0.1' : 'MQTT off'}), POLL_INTERVAL ${agent.config.supervisor.pollInterval} ms, PROBE_INTERVAL ${agent.config.supervisor.probeInterval} ms\n`,
  );

  const current = new Map(upses.map((u) => [u, 'OL']));
  const changes: Change[] = [];
  let missed = 0;
  for (let i = 0; i < nChanges; i++) {
    const ups = upses[i % nUps] as string;
    const to = current.get(ups) === 'OL' ? 'OB' : 'OL';
    const mark = agent.mark();
    const spawnedAt = Date.now();
    // The observer starts before upsrw, so it also catches a change that upsd serves before upsrw exits.
    const tracker = observer.track(ups, 10);
    const upsdAt = () => tracker.samples.find((s) => s.value === to)?.t;
    const r = await execa(
      'upsrw',
      [
        '-s',
        `ups.status=${to}`,
        '-u',
        lab.adminUser.username,
        '-p',
        lab.adminUser.password,
        `${ups}@127.0.0.1:${lab.port}`,
      ],
      { stdin: 'ignore', reject: false, timeout: 10_000 },
    );
    const okAt = Date.now();
    // upsrw prints its OK on stderr.
    if (r.exitCode !== 0 || !/^OK/m.test(`${r.stdout}\n${r.stderr}`)) {
      await tracker.stop();
      throw new Error(`upsrw failed (rc ${r.exitCode}): ${r.stdout} ${r.stderr}`);
    }
    current.set(ups, to);
    const change: Change = { ups, to, spawnedAt, okAt };
    const deadline = okAt + EVENT_TIMEOUT_MS;
    while (Date.now() < deadline && (change.eventAt === undefined || upsdAt() === undefined)) {
      const e = agent.events
        .slice(mark)
        .filter((x): x is RecordedEvent<'status-changed'> => x.name === 'status-changed')
        .find((x) => x.payload.ups === ups && x.payload.to === to);
      if (e && change.eventAt === undefined) {
        change.eventAt = e.t;
        change.source = e.payload.source;
      }
      await sleep(5);
    }
    await tracker.stop();
    change.upsdAt = upsdAt();
    if (change.eventAt === undefined) missed++;
    changes.push(change);
    await sleep(150 + Math.random() * 500);
  }

  const seen = changes.filter((c) => c.eventAt !== undefined);
  const lat = (from: (c: Change) => number | undefined) =>
    seen.flatMap((c) => {
      const f = from(c);
      return f === undefined ? [] : [(c.eventAt as number) - f];
    });
  const row = (name: string, v: number[]) => [
    name,
    String(v.length),
    fmtMs(median(v)),
    fmtMs(percentile(v, 90)),
    fmtMs(percentile(v, 99)),
    fmtMs(max(v)),
    fmtMs(min(v)),
  ];
  const fromOk = lat((c) => c.okAt);
  const poll = agent.config.supervisor.pollInterval;
  printTable(
    'Latency to the agent’s status-changed event',
    ['measured from', 'n', 'median', 'p90', 'p99', 'max', 'min'],
    [
      row('upsrw returned OK (the target metric)', fromOk),
      row(
        'upsrw started',
        lat((c) => c.spawnedAt),
      ),
      row(
        'upsd first served the new value (observer, 10 ms polls)',
        lat((c) => c.upsdAt),
      ),
    ],
  );
  const upsdLag = changes.flatMap((c) => (c.upsdAt === undefined ? [] : [c.upsdAt - c.okAt]));
  const bySource = new Map<string, number>();
  for (const c of seen) bySource.set(c.source ?? '?', (bySource.get(c.source ?? '?') ?? 0) + 1);
  printTable(
    'For comparison',
    ['what', 'value'],
    [
      ['agent poll interval (POLL_INTERVAL)', `${poll} ms`],
      ['a poller at that interval sees a change after, on average', `${poll / 2} ms (half the interval)`],
      [
        'upsrw OK → upsd serves the new value (median / max)',
        `${fmtMs(median(upsdLag))} / ${fmtMs(max(upsdLag))}`,
      ],
      ['events by source', [...bySource].map(([s, n]) => `${s}: ${n}`).join(', ')],
      [
        'changes later than 100 ms after upsrw OK',
        `${fromOk.filter((v) => v > 100).length} of ${fromOk.length}`,
      ],
      ['changes without an event within 10 s', String(missed)],
    ],
  );
  process.stdout.write(
    [
      '',
      'notes   upsd answers OK to SET VAR once it has passed the SET to the driver, before the driver applies it; the',
      '        driver applies it (and broadcasts SETINFO) at its next socket read. dummy-ups sleeps 1 s inside each 2 s',
      '        update and reads nothing meanwhile, so some changes wait up to ~1 s in the driver: see the upsd row.',
      '        Negative values: the event came before this process saw upsrw exit (times are Date.now(), 1 ms steps).',
    ].join('\n'),
  );
  const med = median(fromOk);
  process.stdout.write(
    `\ntarget  median latency upsrw OK → event ≤ ${TARGET_MS} ms: ${fmtMs(med)} → ${verdict(med === undefined || missed > 0 ? (med === undefined ? undefined : false) : med <= TARGET_MS)}${missed ? ` (${missed} change(s) never seen)` : ''}\n`,
  );

  await observer.close();
  unregisterObserver();
  await agent.stop();
  unregisterAgent();
  await broker?.stop();
  unregisterBroker();
  const agentLeft = agent.startedPids().filter(processAlive);
  const labLeft = labProcesses(match);
  await stopLab();
  process.stdout.write(
    [
      `NUT processes the agent started that are still alive after agent.stop(): ${agentLeft.length}${agentLeft.length ? ` (${agentLeft.join(', ')})` : ''}`,
      `processes of the lab left after agent.stop(): ${labLeft.length}${labLeft.map((p) => `\n  ${p.pid} ${p.argv.join(' ')}`).join('')}`,
      `processes of the lab left after lab.stop(): ${labProcesses(match).length}`,
      took('bench:latency', started),
      '',
    ].join('\n'),
  );
});
