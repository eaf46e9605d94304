// The scale bench's output: the table, the targets with met / NOT met, the latency split, warnings and profiles.
import { formatTable, median, percentile, verdict } from '../../test/fixtures/stats.js';
import type { Change } from './changes.js';
import { POLL_INTERVAL_MS, type SizeResult } from './runSize.js';

/** Targets of issue 5, at 100 UPSes. */
export const TARGET_UPSES = 100;
export const TARGET_CPU_PCT = 10;
export const TARGET_RSS_MIB = 150;
export const TARGET_P99_MS = 2 * POLL_INTERVAL_MS;

const ms = (v: number | undefined): string => (v === undefined ? '-' : `${Math.round(v)} ms`);

export interface Latencies {
  total: number[];
  driver: number[];
  agent: number[];
  missed: number;
  /** Changes whose agent share exceeded half a poll interval: published on a later poll, not from the feed. */
  late: number;
  /** State messages that went back to an older value after the new one was published, and in how many changes. */
  regressions: number;
  flappedChanges: number;
}

export function latencies(changes: readonly Change[]): Latencies {
  const total: number[] = [];
  const driver: number[] = [];
  const agent: number[] = [];
  let missed = 0;
  let late = 0;
  let regressions = 0;
  let flappedChanges = 0;
  for (const c of changes) {
    if (c.regressions) {
      regressions += c.regressions;
      flappedChanges++;
    }
    if (c.mqttAt === undefined) {
      missed++;
      continue;
    }
    total.push(c.mqttAt - c.writtenAt);
    if (c.upsdAt !== undefined) {
      driver.push(c.upsdAt - c.writtenAt);
      agent.push(Math.max(0, c.mqttAt - c.upsdAt));
      if (c.mqttAt - c.upsdAt > POLL_INTERVAL_MS / 2) late++;
    }
  }
  return { total, driver, agent, missed, late, regressions, flappedChanges };
}

export function resultTable(results: readonly SizeResult[]): string {
  const headers = [
    'UPSes',
    'startup',
    'agent CPU',
    'agent RSS max',
    'MQTT msg/s',
    'change→MQTT median',
    'p99',
    'changes (missed)',
    'NUT CPU',
  ];
  const rows = results.map((r) => {
    const l = latencies(r.changes);
    if (r.error && r.startupMs === undefined) return [String(r.size), 'FAILED', '', '', '', '', '', '', ''];
    return [
      String(r.size),
      r.startupMs === undefined ? '-' : `${(r.startupMs / 1000).toFixed(1)} s`,
      `${r.agentCpuPct.toFixed(1)} %`,
      `${r.agentRssMaxMib.toFixed(1)} MB`,
      r.messagesPerSec.toFixed(1),
      ms(median(l.total)),
      ms(percentile(l.total, 99)),
      `${r.changes.length} (${l.missed})`,
      `${r.nutCpuPct.toFixed(1)} %`,
    ];
  });
  return formatTable(headers, rows);
}

export function splitTable(results: readonly SizeResult[]): string {
  const headers = [
    'UPSes',
    'driver share median',
    'p99',
    'max',
    'agent share median',
    'p99',
    'max',
    'split known for',
    'agent late (>½ poll)',
    'flaps',
  ];
  const rows = results.map((r) => {
    const l = latencies(r.changes);
    return [
      String(r.size),
      ms(median(l.driver)),
      ms(percentile(l.driver, 99)),
      ms(l.driver.length ? Math.max(...l.driver) : undefined),
      ms(median(l.agent)),
      ms(percentile(l.agent, 99)),
      ms(l.agent.length ? Math.max(...l.agent) : undefined),
      `${l.driver.length}/${l.total.length}`,
      String(l.late),
      l.regressions ? `${l.regressions} in ${l.flappedChanges} changes` : '0',
    ];
  });
  return formatTable(headers, rows);
}

export function targetLines(results: readonly SizeResult[]): string[] {
  const at100 = results.find((r) => r.size === TARGET_UPSES && !r.error);
  const lines: string[] = [];
  const pct = at100 ? `${at100.agentCpuPct.toFixed(1)} %` : 'not measured';
  const rss = at100 ? `${at100.agentRssMaxMib.toFixed(1)} MB` : 'not measured';
  lines.push(
    `${TARGET_UPSES} UPSes: agent CPU < ${TARGET_CPU_PCT} % of one core ........ ${pct}: ${verdict(at100 ? at100.agentCpuPct < TARGET_CPU_PCT : undefined)}`,
    `${TARGET_UPSES} UPSes: agent RSS < ${TARGET_RSS_MIB} MB ..................... ${rss}: ${verdict(at100 ? at100.agentRssMaxMib < TARGET_RSS_MIB : undefined)}`,
  );
  for (const r of results) {
    const l = latencies(r.changes);
    const p99 = percentile(l.total, 99);
    const ok = p99 === undefined ? undefined : p99 < TARGET_P99_MS && l.missed === 0;
    const agentP99 = percentile(l.agent, 99);
    const agentOk = agentP99 === undefined ? undefined : agentP99 < TARGET_P99_MS;
    lines.push(
      `${String(r.size).padStart(3)} UPSes: p99 change→publish < ${TARGET_P99_MS} ms (2 polls) ... ${ms(p99)}${l.missed ? `, ${l.missed} missed` : ''}: ${verdict(ok)}; the agent's share alone: ${ms(agentP99)}: ${verdict(agentOk)}`,
    );
  }
  return lines;
}
