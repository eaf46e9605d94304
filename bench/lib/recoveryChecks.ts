// What each contender did outside the fault windows (false restarts, warnings), and the per-trial detail file.
import { writeFileSync } from 'node:fs';
import { groupWarnings } from '../../test/fixtures/agentCli.js';
import type { AgentContender } from './agentContender.js';
import type { NaiveContender } from './naiveContender.js';
import type { TrialResult } from './trial.js';

/** A UPS's trial windows: from the fault to the trial's end (plus a minute when the harness had to step in). */
function inWindow(results: readonly TrialResult[], contender: string, ups: string, t: number): boolean {
  return results.some(
    (r) =>
      r.contender === contender &&
      r.ups === ups &&
      r.t0 !== undefined &&
      t >= r.t0 &&
      t <= (r.endAt ?? r.t0) + (r.recoveredMs === undefined || r.leftovers.length > 0 ? 60_000 : 0),
  );
}

export function unexpectedActivity(
  agent: AgentContender,
  naive: NaiveContender,
  results: readonly TrialResult[],
  _capMs: number,
): string[] {
  const out: string[] = [];
  const firstTrial = Math.min(...results.map((r) => r.t0 ?? Number.POSITIVE_INFINITY));
  const restarts = agent
    .find(/^recovering /)
    .filter((l) => l.ups && !inWindow(results, agent.name, l.ups, l.t));
  out.push(
    `nut-mqtt restarts outside fault windows (false restarts): ${restarts.length}${restarts.map((l) => `\n    ${new Date(l.t).toISOString()} ${l.ups}: ${l.msg}`).join('')}`,
  );
  const retries = agent.find(/^recovering /).filter((l) => Number(l.fields.attempt ?? 1) > 1);
  out.push(`nut-mqtt recoveries that needed more than one attempt: ${retries.length}`);
  const warnings = agent.lines.filter(
    (l) => l.level >= 40 && l.t >= firstTrial && !(l.ups && inWindow(results, agent.name, l.ups, l.t)),
  );
  const groups = groupWarnings(warnings, (l) => `${l.ups ? `${l.ups}: ` : ''}${l.msg}`);
  out.push(
    `nut-mqtt warnings/errors outside fault windows (after the first trial): ${warnings.length}${groups
      .slice(0, 10)
      .map((g) => `\n    ${g.count}× ${g.message}`)
      .join('')}`,
  );
  const naiveFalse = naive
    .allActions()
    .filter((a) => a.what.startsWith('upsc failed') && !inWindow(results, naive.name, a.ups, a.t));
  out.push(
    `naive restarts outside fault windows: ${naiveFalse.length}${naiveFalse.map((a) => `\n    ${new Date(a.t).toISOString()} ${a.ups}: ${a.what}`).join('')}`,
  );
  return out;
}

export function writeDetails(file: string, results: readonly TrialResult[]): void {
  const blocks = results.map((r) =>
    [
      `== ${r.fault} · ${r.contender} · #${r.n} · ${r.ups} · ${r.t0 ? new Date(r.t0).toISOString() : 'not started'}`,
      `recovery: ${r.recoveredMs !== undefined ? `${r.recoveredMs} ms` : (r.note ?? 'not recovered')}`,
      `observer: ${r.timeline}`,
      ...r.evidence.map((e) => `  ${e}`),
      ...r.leftovers.map((l) => `  harness killed leftover: ${l}`),
      `upsd pids: ${r.upsdPids.join(', ')}`,
    ].join('\n'),
  );
  writeFileSync(file, `${blocks.join('\n\n')}\n`);
}
