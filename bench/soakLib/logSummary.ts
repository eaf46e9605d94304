// What the agent logged at warn level and above during the soak, grouped by message (digits folded), so that
// anything unexpected stands out next to the many expected "driver exited unexpectedly" lines.
import { readFileSync } from 'node:fs';

export interface LogGroup {
  level: 'warn' | 'error' | 'fatal';
  message: string;
  count: number;
  /** The first line of the group, verbatim. */
  example: string;
}

export interface LogSummary {
  lines: number;
  /** Lines that are not pino JSON (a crash trace, say). */
  other: string[];
  groups: LogGroup[];
}

const LEVELS: Record<number, LogGroup['level']> = { 40: 'warn', 50: 'error', 60: 'fatal' };

/** Folds pids, counts, durations and timestamps so that one kind of message is one group. */
function fold(msg: string): string {
  return msg
    .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, '<time>')
    .replace(/\d+(\.\d+)?/g, '#')
    .slice(0, 200);
}

export function summarizeLog(file: string): LogSummary {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { lines: 0, other: ['(no log file)'], groups: [] };
  }
  const groups = new Map<string, LogGroup>();
  const other: string[] = [];
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  for (const line of lines) {
    let entry: { level?: number; msg?: string; ups?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      if (other.length < 50) other.push(line.slice(0, 300));
      continue;
    }
    const level = LEVELS[entry.level ?? 0];
    if (!level) continue;
    const message = fold(String(entry.msg ?? ''));
    const key = `${level} ${message}`;
    const g = groups.get(key);
    if (g) g.count += 1;
    else groups.set(key, { level, message, count: 1, example: line.slice(0, 600) });
  }
  const rank = { fatal: 0, error: 1, warn: 2 };
  return {
    lines: lines.length,
    other,
    groups: [...groups.values()].sort((a, b) => rank[a.level] - rank[b.level] || b.count - a.count),
  };
}
