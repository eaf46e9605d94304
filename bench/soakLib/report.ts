// The soak's summary: per fault kind (injected, recovered, time to fresh data), the targets with met / NOT MET,
// and the evidence behind anything that missed (which fault, which UPS, which log lines), with what the agent
// logged at warn level and above grouped by message.
import { max, median, fmtSec as secs, formatTable as table } from '../../test/fixtures/stats.js';
import { EXPECTED_REASON, FAULT_KINDS, type FaultKind, KIND_LABEL } from './faults.js';
import type { FaultRecord, SoakResult } from './runner.js';

/** How many more open fds the agent may have at the end than before the first fault. */
export const FD_MARGIN = 5;

export interface Target {
  /** Stable, for result.json readers (the soak test). */
  id: string;
  name: string;
  value: string;
  required: string;
  met: boolean | undefined;
}

export function wronglyRestarted(r: SoakResult): number {
  return r.faults.reduce((n, f) => n + f.wrongRestarts.length, 0);
}

/** A count that must be 0. */
const none = (id: string, name: string, n: number): Target => ({
  id,
  name,
  value: String(n),
  required: '0',
  met: n === 0,
});

export function targets(r: SoakResult): Target[] {
  const recovered = r.faults.filter((f) => f.recoveredMs !== undefined).length;
  const { start, end } = r.fds;
  const fdGrowth = start !== undefined && end !== undefined ? end - start : undefined;
  const stop = r.agentStop;
  return [
    {
      id: 'recovered',
      name: 'faults recovered (fresh data within the cap)',
      value: `${recovered} / ${r.faults.length}${r.faults.length < r.options.faults ? ` (of ${r.options.faults} planned)` : ''}`,
      required: 'all',
      met: recovered === r.faults.length && r.faults.length === r.options.faults,
    },
    none('agent-exits', 'agent restarts (unexpected exits)', r.agentExits.length),
    none('wrong-restarts', 'UPSes wrongly restarted', wronglyRestarted(r)),
    none('disagreements', 'retained state disagreeing with upsd at the end', r.disagreements.length),
    {
      id: 'stop',
      name: 'agent stop on SIGTERM',
      value: stop
        ? `exit ${stop.code ?? '-'}${stop.signal ? ` (${stop.signal})` : ''} after ${secs(stop.ms)}${stop.forced ? ', needed SIGKILL' : ''}`
        : 'not running',
      required: 'exit 0',
      met: stop !== undefined && stop.code === 0 && !stop.forced,
    },
    none('leaked', 'leaked NUT processes after the agent exited', r.leaked.length),
    {
      id: 'fds',
      name: 'agent open fds: before first fault / before last / end',
      value: `${start ?? '-'} / ${r.fds.beforeLast ?? '-'} / ${end ?? '-'}`,
      required: `end ≤ start + ${FD_MARGIN}`,
      met: fdGrowth !== undefined && fdGrowth <= FD_MARGIN,
    },
    {
      id: 'rss',
      name: 'agent RSS: before first fault / end',
      value: `${mb(r.rssKb.start)} / ${mb(r.rssKb.end)}`,
      required: '(reported)',
      met: undefined,
    },
  ];
}

const mb = (kb: number | undefined): string => (kb === undefined ? '-' : `${(kb / 1024).toFixed(1)} MB`);

function reasonsCell(records: readonly FaultRecord[]): string {
  const counts = new Map<string, number>();
  for (const f of records)
    for (const reason of f.agentReasons) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  return [...counts].map(([reason, n]) => `${reason}×${n}`).join(' ') || '-';
}

export function kindTable(r: SoakResult): string {
  const rows: string[][] = [];
  const kinds = FAULT_KINDS.filter((k) => r.faults.some((f) => f.kind === k));
  const row = (label: string, fs: readonly FaultRecord[]): string[] => {
    const times = fs.flatMap((f) => (f.recoveredMs === undefined ? [] : [f.recoveredMs]));
    const agent = fs.flatMap((f) => f.agentDurationsMs);
    const noticed = fs.flatMap((f) => (f.noticedMs === undefined ? [] : [f.noticedMs]));
    return [
      label,
      String(fs.length),
      String(times.length),
      secs(median(noticed)),
      secs(median(times)),
      secs(max(times)),
      secs(median(agent)),
      String(fs.reduce((n, f) => n + f.failedAttempts, 0)),
      String(fs.reduce((n, f) => n + f.wrongRestarts.length, 0)),
      reasonsCell(fs),
    ];
  };
  for (const k of kinds)
    rows.push(
      row(
        KIND_LABEL[k],
        r.faults.filter((f) => f.kind === k),
      ),
    );
  rows.push(row('all', r.faults));
  return table(
    [
      'fault',
      'injected',
      'recovered',
      'offline after',
      'fresh: median',
      'max',
      'agent median',
      'failed attempts',
      'wrong restarts',
      "agent's recovered reasons",
    ],
    rows,
    'lrrrrrrrrl',
  );
}

export function formatReport(r: SoakResult): string {
  const out: string[] = [];
  const minutes = ((r.endedAt - r.startedAt) / 60_000).toFixed(1);
  out.push(
    '',
    `SOAK SUMMARY  seed ${r.options.seed}, ${r.faults.length} fault(s), ${r.upses.length} UPS(es), ${minutes} min`,
  );
  out.push(
    'fresh = injection → the UPS(es) `online` again on MQTT (after an `offline`; after the reconnect for a broker',
    'restart) AND upsd serving a real ups.status. offline after = injection → first `offline` on MQTT (median).',
    "agent median = the agent's own duration_ms in its `recovered` events (it counts from when it noticed the fault).",
    'failed attempts = recovery-failed events; wrong restarts = other UPSes whose driver pid changed.',
    '',
  );
  out.push(kindTable(r), '');
  const ts = targets(r);
  out.push(
    table(
      ['target', 'value', 'required', 'result'],
      ts.map((t) => [t.name, t.value, t.required, t.met === undefined ? '-' : t.met ? 'met' : 'NOT MET']),
      'llll',
    ),
  );
  const missed = ts.filter((t) => t.met === false).length;
  out.push('', missed === 0 ? 'all targets met' : `${missed} target(s) NOT MET`);

  // --- evidence ---------------------------------------------------------------------------------------------------
  const failed = r.faults.filter((f) => f.recoveredMs === undefined);
  if (failed.length) {
    out.push('', 'faults not recovered:');
    for (const f of failed) out.push(`  #${f.n} ${f.kind} ${f.ups ?? '*'} (${f.detail}): ${f.error}`);
  }
  const wrong = r.faults.filter((f) => f.wrongRestarts.length);
  if (wrong.length) {
    out.push('', 'UPSes wrongly restarted (driver pid changed though the fault was elsewhere):');
    for (const f of wrong)
      for (const w of f.wrongRestarts)
        out.push(
          `  after #${f.n} ${f.kind} ${f.ups ?? '*'}: ${w.ups} pid ${w.before ?? '-'} → ${w.after ?? '-'}; agent's recovering reasons: ${w.reasons.join(', ') || 'none published'}`,
        );
  }
  const odd = r.faults.filter((f) => {
    const expected = EXPECTED_REASON[f.kind as FaultKind];
    return f.recoveredMs !== undefined && expected !== undefined && !f.agentReasons.includes(expected);
  });
  if (odd.length) {
    out.push('', "recovered, but not with the agent's expected reason:");
    for (const f of odd)
      out.push(
        `  #${f.n} ${f.kind} ${f.ups ?? '*'}: expected ${EXPECTED_REASON[f.kind]}, agent said ${f.agentReasons.join(', ') || 'nothing'}`,
      );
  }
  const unsettled = r.faults.filter((f) => f.unsettled);
  if (unsettled.length || r.finalUnsettled) {
    out.push('', 'not all healthy before a fault (settle timeout):');
    for (const f of unsettled) out.push(`  before #${f.n}: ${f.unsettled}`);
    if (r.finalUnsettled) out.push(`  at the end: ${r.finalUnsettled}`);
  }
  if (r.disagreements.length)
    out.push('', 'retained state vs upsd at the end:', ...r.disagreements.map((d) => `  ${d}`));
  if (r.leaked.length)
    out.push(
      '',
      'leaked processes:',
      ...r.leaked.map((p) => `  pid ${p.pid} [${p.state}] ${p.argv.join(' ')}`),
    );
  for (const e of r.agentExits) out.push('', `agent exited unexpectedly: code ${e.code}, signal ${e.signal}`);

  out.push('', `agent log (${r.log.lines} lines, ${r.logFile}), warn and above grouped:`);
  if (r.log.groups.length === 0) out.push('  (none)');
  for (const g of r.log.groups.slice(0, 25))
    out.push(`  ${g.level.padEnd(5)} ×${String(g.count).padEnd(4)} ${g.message}`);
  if (r.log.groups.length > 25) out.push(`  … ${r.log.groups.length - 25} more groups`);
  if (r.log.other.length)
    out.push('  lines that are not JSON:', ...r.log.other.slice(0, 10).map((l) => `    ${l}`));
  out.push(
    '',
    `observer: ${r.observer.messages} MQTT messages, ${r.observer.reconnects} reconnect(s); setup ${secs(r.setupMs)}`,
  );
  return out.join('\n');
}
