// Tables for the recovery bench: one block per fault × contender with every trial, then the summary.
import { fmtSec, max, median, printTable, verdict } from '../../test/fixtures/stats.js';
import type { Fault, TrialResult } from './trial.js';

/** Not recovered counts as +∞, so a median or max that lands on it prints as "> cap". */
function censored(rs: readonly TrialResult[]): { med?: number; max?: number; ok: number } {
  const vals = rs.map((r) => r.recoveredMs ?? Number.POSITIVE_INFINITY);
  return { med: median(vals), max: max(vals), ok: rs.filter((r) => r.recoveredMs !== undefined).length };
}

const fmtCensored = (ms: number | undefined, capMs: number): string =>
  ms === Number.POSITIVE_INFINITY ? `> ${capMs / 1000} s` : fmtSec(ms);

const KEY_AGENT =
  /did not answer PING|flags its data stale|^recovering |recovered from|recovery failed|exited unexpectedly|SIGKILL/;

export function printTrials(fault: Fault, contender: string, rs: readonly TrialResult[]): void {
  const rows = rs.map((r) => [
    `#${r.n}`,
    r.ups,
    r.recoveredMs !== undefined ? fmtSec(r.recoveredMs) : 'NOT recovered',
    String(r.leftovers.length),
    r.note && r.recoveredMs === undefined && !r.t0 ? r.note : r.timeline,
  ]);
  printTable(
    `${fault} · ${contender}`,
    ['trial', 'UPS', 'recovery', 'killed after', 'observer timeline'],
    rows,
  );
  for (const r of rs) {
    const account = r.evidence.filter(
      (e) => contender !== 'nut-mqtt' || KEY_AGENT.test(e.replace(/^\S+ /, '')),
    );
    if (account.length > 0) process.stdout.write(`  #${r.n} ${contender}: ${account.join(' | ')}\n`);
    for (const l of r.leftovers) process.stdout.write(`  #${r.n} harness killed leftover: ${l}\n`);
  }
}

export interface Targets {
  agentHangMedianMs: number;
  agentCrashMedianMs: number;
  hangSpeedup: number;
  /** Issue #11: stale-while-alive at least this much faster than the naive loop. */
  staleSpeedup: number;
}

export function printSummary(
  results: readonly TrialResult[],
  faults: readonly Fault[],
  contenders: readonly [string, string],
  capMs: number,
  targets: Targets,
): void {
  const [a, b] = contenders;
  const stats = (fault: Fault, c: string) =>
    censored(results.filter((r) => r.fault === fault && r.contender === c));
  const rows: string[][] = [];
  const ratios = new Map<Fault, { text: string; lowerBound?: number; value?: number }>();
  for (const fault of faults) {
    for (const c of contenders) {
      const s = stats(fault, c);
      const n = results.filter((r) => r.fault === fault && r.contender === c).length;
      rows.push([fault, c, fmtCensored(s.med, capMs), fmtCensored(s.max, capMs), `${s.ok}/${n}`]);
    }
    const sa = stats(fault, a).med;
    const sb = stats(fault, b).med;
    if (sa === undefined || sb === undefined || sa === Number.POSITIVE_INFINITY)
      ratios.set(fault, { text: 'n/a' });
    else if (sb === Number.POSITIVE_INFINITY) {
      const lb = capMs / sa;
      ratios.set(fault, {
        text: `> ${lb.toFixed(1)}× (naive median beyond the ${capMs / 1000} s cap)`,
        lowerBound: lb,
      });
    } else ratios.set(fault, { text: `${(sb / sa).toFixed(1)}×`, value: sb / sa });
  }
  printTable(
    `Recovery: fault injection → fresh data at upsd (observer GET VAR every 50 ms), cap ${capMs / 1000} s`,
    ['fault', 'contender', 'median', 'max', 'recovered'],
    rows,
  );
  printTable(
    `Ratio ${b}/${a} (median recovery time)`,
    ['fault', 'naive / agent'],
    faults.map((f) => [f, ratios.get(f)?.text ?? 'n/a']),
  );

  const med = (f: Fault) => (faults.includes(f) ? stats(f, a).med : undefined);
  const hang = med('hang');
  const crash = med('crash');
  const r = ratios.get('hang');
  const speed = r?.value ?? r?.lowerBound;
  const rs = ratios.get('stale');
  const staleSpeed = rs?.value ?? rs?.lowerBound;
  const lines = [
    `agent hang median ≤ ${targets.agentHangMedianMs / 1000} s (default timings): ${fmtCensored(hang, capMs)} → ${verdict(hang === undefined ? undefined : hang <= targets.agentHangMedianMs)}`,
    `agent crash median ≤ ${targets.agentCrashMedianMs / 1000} s: ${fmtCensored(crash, capMs)} → ${verdict(crash === undefined ? undefined : crash <= targets.agentCrashMedianMs)}`,
    `agent ≥ ${targets.hangSpeedup}× faster than naive for hangs: ${r?.text ?? 'n/a'} → ${verdict(speed === undefined ? undefined : speed >= targets.hangSpeedup)}`,
    `agent ≥ ${targets.staleSpeedup}× faster than naive for stale-while-alive: ${rs?.text ?? 'n/a'} → ${verdict(staleSpeed === undefined ? undefined : staleSpeed >= targets.staleSpeedup)}`,
  ];
  process.stdout.write(`\nTargets\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
}
