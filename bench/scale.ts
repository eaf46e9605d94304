// Scale benchmark (issue 5): 1, 10, 50 and 100 dummy-ups UPSes under ONE agent polling upsd every second, each size
// for a measured window (60 s by default). The agent runs as a subprocess (`node dist/cli.js run`), so its CPU
// (utime + stime from /proc/<pid>/stat, % of one core) and RSS (VmRSS from /proc/<pid>/status, max) are its own.
// An outside MQTT client on `<base>/#` counts messages and times `.dev` changes to their MQTT publish.
//
//   npm run bench:scale [-- --sizes 1,10,50,100 --seconds 60 --driver-poll 1 --settle 5 --no-upsd-probe --profile]
//
// --driver-poll   dummy-ups `pollinterval` in ups.conf (s; default 1): the driver notices a new .dev mtime only on
//                 its own poll, which is part of every change's latency
// --no-upsd-probe do not time when upsd first serves a change (GET VAR every 20 ms on a separate connection);
//                 without it the latency cannot be split into the driver's and the agent's share
// --profile       run the agent under `node --cpu-prof` and print where its CPU goes in the window (adds a little
//                 CPU of its own); profiles are kept in the output folder
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { printTable } from '../test/fixtures/stats.js';
import { boolFlag, fmtDuration, intFlag, loadAverage, printHeader, runBench, stringFlag } from './lib/run.js';
import { latencies, resultTable, splitTable, targetLines } from './scaleLib/report.js';
import { POLL_INTERVAL_MS, runSize, type SizeResult } from './scaleLib/runSize.js';

function sizesFlag(): number[] {
  const raw = stringFlag('sizes', '1,10,50,100');
  const sizes = raw.split(',').map((s) => s.trim());
  if (sizes.some((s) => !/^\d+$/.test(s) || Number(s) < 1 || Number(s) > 500))
    throw new Error(
      `--sizes must be a comma-separated list of whole numbers 1..500 (got ${JSON.stringify(raw)})`,
    );
  return sizes.map(Number);
}

await runBench(async () => {
  const sizes = sizesFlag();
  const seconds = intFlag('seconds', 60, 5, 3600);
  const driverPoll = intFlag('driver-poll', 1, 1, 60);
  const settleSeconds = intFlag('settle', 5, 0, 600);
  const upsdProbe = !boolFlag('no-upsd-probe');
  const profile = boolFlag('profile');
  const outDir = mkdtempSync(join(tmpdir(), 'nut-mqtt-scale-'));
  const started = Date.now();

  await printHeader('nut-mqtt scale benchmark');
  process.stdout.write(
    [
      `sizes    ${sizes.join(', ')} dummy-ups UPSes under one agent; ${seconds} s measured per size after start-up + ${settleSeconds} s settle`,
      `agent    node dist/cli.js run, POLL_INTERVAL=${POLL_INTERVAL_MS}, LOG_LEVEL=warn, HA discovery on, private Mosquitto${profile ? ', --cpu-prof' : ''}`,
      `drivers  dummy-ups pollinterval=${driverPoll} s; a .dev change every 0.5–1 s (ups.load, round robin)`,
      `output   logs${profile ? ' and CPU profiles' : ''} in ${outDir}`,
      '',
    ].join('\n'),
  );

  const results: SizeResult[] = [];
  for (const size of sizes) {
    process.stdout.write(`\n-- ${size} UPS${size === 1 ? '' : 'es'} (load average ${loadAverage()}) --\n`);
    const r = await runSize({
      size,
      seconds,
      driverPoll,
      settleSeconds,
      startupTimeoutMs: 60_000 + size * 3000,
      upsdProbe,
      profile,
      outDir,
    });
    results.push(r);
    const l = latencies(r.changes);
    process.stdout.write(
      [
        r.error ? `  ERROR: ${r.error}` : undefined,
        `  agent CPU ${r.agentCpuPct.toFixed(1)} %, RSS max ${r.agentRssMaxMib.toFixed(1)} MB (window start ${r.agentRssStartMib.toFixed(1)} MB, end ${r.agentRssEndMib.toFixed(1)} MB), ${r.messagesPerSec.toFixed(1)} MQTT msg/s, ${l.total.length} changes timed, ${l.missed} missed`,
        `  ${r.nutProcesses} NUT processes (upsd + drivers) used ${r.nutCpuPct.toFixed(1)} % of one core together`,
        `  agent ${r.agentExit}; leftover lab processes: ${r.leftovers.length === 0 ? 'none' : r.leftovers.join('; ')}`,
        r.agentWarnings.length > 0
          ? `  agent log (warn+): ${r.agentWarnings.length} line(s); first: ${r.agentWarnings.slice(0, 3).join(' | ').slice(0, 600)}`
          : '  agent log (warn+): empty',
      ]
        .filter((s) => s !== undefined)
        .join('\n')
        .concat('\n'),
    );
  }

  process.stdout.write(
    `\nScale: one agent, N dummy-ups UPSes, POLL_INTERVAL=${POLL_INTERVAL_MS}\n${resultTable(results)}\n`,
  );
  process.stdout.write(
    [
      '',
      'startup: agent spawn → every UPS `online` on MQTT. agent CPU: utime+stime of the agent process in the window, % of',
      'one core. RSS: max VmRSS sampled every 0.5 s. msg/s: every message on `nut/#` seen by an outside subscriber.',
      'change→MQTT: lab.writeDev() returned → first `nut/<ups>` state with the new ups.load (p99: nearest rank; with',
      '~80 changes per size it is the largest or second largest). NUT CPU: upsd + drivers (+ the bench upsd probe).',
      '',
    ].join('\n'),
  );

  if (upsdProbe) {
    process.stdout.write(
      `\nWhere a change's time goes (driver pollinterval ${driverPoll} s)\n${splitTable(results)}\n`,
    );
    process.stdout.write(
      [
        '',
        `driver share: writeDev → upsd serves the value. dummy-ups looks at the .dev mtime once per driver cycle`,
        `(pollinterval ${driverPoll} s; its update also sleeps 1 s), so it adds a uniformly random 0–${Math.max(1, driverPoll)} s, mean ~${(Math.max(1, driverPoll) / 2).toFixed(1)} s.`,
        'agent share: upsd serves it → MQTT. The agent has the value from the driver socket the moment upsd does',
        '(SETINFO broadcast on its probe connection), coalesces 50 ms and publishes; its POLL_INTERVAL is not on this path.',
        'The split is to within the probe period (20 ms). agent late: the agent published more than half a poll',
        'interval after upsd had the value, i.e. on a later upsd poll instead of from the driver feed. flaps: state',
        'messages that showed an OLDER value after the new one had been published (before the next change).',
        '',
      ].join('\n'),
    );
  }

  process.stdout.write('\nTargets\n');
  for (const line of targetLines(results)) process.stdout.write(`  ${line}\n`);

  for (const r of results) {
    if (!r.profile) continue;
    const s = r.profile.summary;
    process.stdout.write(
      `\nCPU profile, ${r.size} UPSes, measured window (${r.profile.file}): ${s.samples} samples over ${(s.totalMs / 1000).toFixed(1)} s, ${(100 * (1 - s.idleShare)).toFixed(1)} % not idle\n`,
    );
    const ms = (v: number) => `${Math.round(v)} ms`;
    const pct = (share: number) => `${(share * 100).toFixed(1)} %`;
    printTable(
      'by code area (self time, % of the non-idle time)',
      ['area', 'self', 'share'],
      s.areas.map((a) => [a.area, ms(a.selfMs), pct(a.share)]),
    );
    printTable(
      'top functions (self time)',
      ['function', 'where', 'self', 'share'],
      s.topFunctions.map((f) => [f.name, f.where, ms(f.selfMs), pct(f.share)]),
    );
    printTable(
      "the agent's functions by inclusive time (self + callees)",
      ['function', 'where', 'total', 'share'],
      s.agentInclusive.map((f) => [f.name, f.where, ms(f.totalMs), pct(f.share)]),
    );
  }

  const failed = results.filter((r) => r.error || r.leftovers.length > 0);
  process.stdout.write(`\ndone in ${fmtDuration(Date.now() - started)}; logs in ${outDir}\n`);
  if (failed.length > 0) {
    process.stdout.write(`FAILED sizes: ${failed.map((r) => r.size).join(', ')}\n`);
    process.exitCode = 1;
  }
});
