// npm run bench:poll [-- --upses 10 --cycles 50 --rounds 3]
//
// CPU per UPS poll: our NutClient (LIST VAR over one persistent connection, a cycle's requests pipelined in one
// go as the agent does) against spawning `upsc <ups>@127.0.0.1:<port>` per poll.
// CPU accounting: NutClient = process.cpuUsage() of this process around the polls. upsc = cutime + cstime of
// this process from /proc/self/stat before and after (every upsc has exited and been waited for by then, so its
// whole CPU is in there), plus this process's own CPU for spawning them, shown separately.
// Each method runs `rounds` times, interleaved; the table shows the median round (and the range).
import { execa } from 'execa';
import { NutClient } from '../src/nut/client.js';
import { labProcesses } from '../test/fixtures/labProcs.js';
import { cpuMs, reapedChildrenCpuMs, sleep } from '../test/fixtures/proc.js';
import { fmtMs, median, printTable, verdict } from '../test/fixtures/stats.js';
import { RawLister } from './lib/rawPoll.js';
import { dummyLab, intFlag, onCleanup, printHeader, runBench, took } from './lib/run.js';

const started = Date.now();
const nUps = intFlag('upses', 10, 1, 100);
const cycles = intFlag('cycles', 50, 1, 10_000);
const rounds = intFlag('rounds', 3, 1, 20);
const TARGET = 20;

/** Per-poll figures of one round, in ms. */
interface PerPoll {
  wall: number;
  self: number;
  children: number;
  upsd: number;
}

async function measure(upsdPid: number, polls: number, body: () => Promise<void>): Promise<PerPoll> {
  const upsd0 = cpuMs(upsdPid) ?? 0;
  const child0 = reapedChildrenCpuMs();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await body();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    wall: wall / polls,
    self: (cpu.user + cpu.system) / 1000 / polls,
    children: (reapedChildrenCpuMs() - child0) / polls,
    upsd: ((cpuMs(upsdPid) ?? 0) - upsd0) / polls,
  };
}

interface Method {
  name: string;
  polls: number;
  run: () => Promise<void>;
  rounds: PerPoll[];
}

await runBench(async () => {
  await printHeader('bench:poll: CPU per UPS poll, NutClient vs spawning upsc');
  const { lab, upses, stop: stopLab } = await dummyLab(nUps);
  const match = { confPath: lab.confPath, dirs: [lab.dir] };
  for (const u of upses) await lab.startDriver(u);
  const upsdPid = await lab.startUpsd();
  for (const u of upses) await lab.waitForStatus(u, (s) => s !== 'WAIT');

  const client = new NutClient({ host: '127.0.0.1', port: lab.port });
  const unregisterClient = onCleanup('client', () => client.close());
  const raw = new RawLister();
  await raw.connect(lab.port);
  const unregisterRaw = onCleanup('raw socket', () => raw.close());
  const upscArgs = (u: string) => [`${u}@127.0.0.1:${lab.port}`];
  const nVars = (await client.listVar('ups1')).size;
  const upscLines = (await execa('upsc', upscArgs('ups1'), { stdin: 'ignore' })).stdout.split('\n').length;
  const polls = cycles * nUps;
  const seqPolls = Math.min(polls, 100);
  process.stdout.write(
    `settings ${nUps} dummy-ups UPSes; LIST VAR ups1 → ${nVars} variables (upsc prints ${upscLines} lines); ${cycles} cycles × ${nUps} UPSes = ${polls} polls per method and round (one at a time: ${seqPolls}); ${rounds} rounds\n`,
  );

  const upsc = async (u: string) => {
    const r = await execa('upsc', upscArgs(u), { stdin: 'ignore', reject: false });
    if (r.exitCode !== 0 || r.stdout.split('\n').length !== upscLines)
      throw new Error(`upsc ${u}: ${r.stderr}`);
  };
  const cyclesOf = (cycle: () => Promise<unknown>) => async () => {
    for (let i = 0; i < cycles; i++) await cycle();
  };
  const oneAtATime = (poll: (u: string) => Promise<unknown>) => async () => {
    for (let i = 0; i < seqPolls; i++) await poll(upses[i % nUps] as string);
  };
  const methods: Method[] = [
    {
      name: `NutClient, ${nUps} LIST VAR pipelined per cycle`,
      polls,
      run: cyclesOf(async () => {
        const maps = await Promise.all(upses.map((u) => client.listVar(u)));
        if (maps.some((m) => m.size !== nVars))
          throw new Error('LIST VAR returned another number of variables');
      }),
      rounds: [],
    },
    {
      name: 'floor: bare socket, same requests, no parsing',
      polls,
      run: cyclesOf(() => raw.listAll(upses)),
      rounds: [],
    },
    {
      name: 'NutClient, one LIST VAR at a time',
      polls: seqPolls,
      run: oneAtATime((u) => client.listVar(u)),
      rounds: [],
    },
    {
      name: `upsc per poll, ${nUps} in parallel per cycle`,
      polls,
      run: cyclesOf(() => Promise.all(upses.map(upsc))),
      rounds: [],
    },
    { name: 'upsc per poll, one at a time', polls: seqPolls, run: oneAtATime(upsc), rounds: [] },
  ];

  // Warm-up (JIT, connections, page cache), then the rounds, methods interleaved.
  for (const m of methods) await m.run();
  const idle0 = process.cpuUsage();
  await sleep(2000);
  const idle = process.cpuUsage(idle0);
  const idleMsPerS = (idle.user + idle.system) / 1000 / 2;
  for (let r = 0; r < rounds; r++) {
    for (const m of methods) m.rounds.push(await measure(upsdPid, m.polls, m.run));
  }

  const mid = (m: Method, k: keyof PerPoll) => median(m.rounds.map((x) => x[k])) as number;
  const range = (m: Method, k: keyof PerPoll) => {
    const v = m.rounds.map((x) => x[k]);
    return rounds > 1 ? ` (${fmtMs(Math.min(...v)).replace(' ms', '')}–${fmtMs(Math.max(...v))})` : '';
  };
  printTable(
    'Per UPS poll, median of the rounds (range); bench = this node process, children = the upsc processes (cutime+cstime)',
    ['method', 'wall/poll', 'CPU bench/poll', 'CPU children/poll', 'CPU total/poll', 'upsd CPU/poll'],
    methods.map((m) => [
      m.name,
      fmtMs(mid(m, 'wall')),
      `${fmtMs(mid(m, 'self'))}${range(m, 'self')}`,
      mid(m, 'children') ? `${fmtMs(mid(m, 'children'))}${range(m, 'children')}` : '-',
      fmtMs(median(m.rounds.map((x) => x.self + x.children))),
      fmtMs(mid(m, 'upsd')),
    ]),
  );
  const [ours, , , theirs] = methods as [Method, Method, Method, Method];
  const childRatio = mid(theirs, 'children') / mid(ours, 'self');
  const totalRatio = (mid(theirs, 'children') + mid(theirs, 'self')) / mid(ours, 'self');
  process.stdout.write(
    [
      '',
      `ratio   upsc children CPU / NutClient CPU per poll (pipelined rows): ${childRatio.toFixed(1)}×   (with this process's spawning work counted for upsc: ${totalRatio.toFixed(1)}×)`,
      `target  NutClient uses ≥ ${TARGET}× less CPU per poll than spawning upsc (children CPU): ${childRatio.toFixed(1)}× → ${verdict(childRatio >= TARGET)}`,
      'note    /proc CPU times (children, upsd) come in 10 ms ticks, summed over a whole round before dividing.',
      `note    this process uses ${idleMsPerS.toFixed(1)} ms CPU per second doing nothing (tsx loader thread, timers); not subtracted. It weighs most on the slow one-at-a-time rows.`,
      '',
    ].join('\n'),
  );

  await client.close();
  unregisterClient();
  raw.close();
  unregisterRaw();
  await stopLab();
  const left = labProcesses(match);
  process.stdout.write(
    `processes of the lab left after stop: ${left.length}${left.map((p) => `\n  ${p.pid} ${p.argv.join(' ')}`).join('')}\n`,
  );
  process.stdout.write(`${took('bench:poll', started)}\n`);
});
