/**
 * DATA_PATH/history.json: every UPS's outages, gaps, outage in progress and last self-test, so a restart (even in
 * the middle of an outage) continues them. Parsing is pure and strict: a file that is not exactly what the agent
 * writes is set aside (renamed `history.json.bad`) and the history starts over, with one warning.
 */
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { SELF_TEST_TYPES, type SelfTestType } from '../api/commands.js';
import { writeFileAtomic } from '../atomicFile.js';
import type { Gap, HourBucket, OutageLog, OutageRecord } from './outageLog.js';
import type { CurrentOutage } from './outageTracker.js';
import { SELF_TEST_RESULTS, type SelfTestOrigin, type SelfTestRecord } from './selfTest.js';

export const HISTORY_FILE = 'history.json';

/** What is kept of one UPS. */
export interface UpsHistoryEntry {
  since: number | null;
  seenUntil: number | null;
  current: CurrentOutage | null;
  log: OutageLog;
  selfTest: SelfTestRecord | null;
}

export type HistoryLoad =
  | { ok: true; entries: Map<string, UpsHistoryEntry> }
  | {
      ok: false;
      entries: Map<string, UpsHistoryEntry>;
      problem: string;
      /** false when the file exists but could not be read: writing over it would lose it. */
      canSave: boolean;
    };

class Bad extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function num(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Bad(`${what} is not a number`);
  return v;
}
const numOrNull = (v: unknown, what: string) => (v === null ? null : num(v, what));
function bool(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') throw new Bad(`${what} is not true or false`);
  return v;
}
function list<T>(v: unknown, what: string, item: (x: unknown, what: string) => T): T[] {
  if (!Array.isArray(v)) throw new Bad(`${what} is not a list`);
  return v.map((x, i) => item(x, `${what}[${i}]`));
}
function object(v: unknown, what: string): Record<string, unknown> {
  if (!isObject(v)) throw new Bad(`${what} is not an object`);
  return v;
}
function oneOf<T extends string>(v: unknown, options: readonly T[], what: string): T {
  if (typeof v !== 'string' || !options.includes(v as T))
    throw new Bad(`${what} is not one of ${options.join(', ')}`);
  return v as T;
}

function record(v: unknown, what: string): OutageRecord {
  const o = object(v, what);
  return {
    start: num(o.start, `${what}.start`),
    startSeen: bool(o.startSeen, `${what}.startSeen`),
    end: numOrNull(o.end, `${what}.end`),
    lastSeen: num(o.lastSeen, `${what}.lastSeen`),
    wh: numOrNull(o.wh, `${what}.wh`),
  };
}
function gap(v: unknown, what: string): Gap {
  const o = object(v, what);
  return { from: num(o.from, `${what}.from`), to: num(o.to, `${what}.to`) };
}
function bucket(v: unknown, what: string): HourBucket {
  const o = object(v, what);
  return {
    hour: num(o.hour, `${what}.hour`),
    count: num(o.count, `${what}.count`),
    ms: num(o.ms, `${what}.ms`),
  };
}
function current(v: unknown, what: string): CurrentOutage | null {
  if (v === null) return null;
  const o = object(v, what);
  return {
    start: num(o.start, `${what}.start`),
    startSeen: bool(o.startSeen, `${what}.startSeen`),
    startKwh: numOrNull(o.startKwh, `${what}.startKwh`),
  };
}
const ORIGINS: readonly SelfTestOrigin[] = ['command', 'schedule', 'ups'];
function selfTest(v: unknown, what: string): SelfTestRecord | null {
  if (v === null) return null;
  const o = object(v, what);
  if (typeof o.detail !== 'string') throw new Bad(`${what}.detail is not text`);
  return {
    test: o.test === null ? null : oneOf<SelfTestType>(o.test, SELF_TEST_TYPES, `${what}.test`),
    result: oneOf(o.result, SELF_TEST_RESULTS, `${what}.result`),
    detail: o.detail,
    origin: oneOf(o.origin, ORIGINS, `${what}.origin`),
    startedAt: numOrNull(o.startedAt, `${what}.startedAt`),
    at: num(o.at, `${what}.at`),
  };
}
function entry(v: unknown, what: string): UpsHistoryEntry {
  const o = object(v, what);
  return {
    since: numOrNull(o.since, `${what}.since`),
    seenUntil: numOrNull(o.seenUntil, `${what}.seenUntil`),
    current: current(o.current, `${what}.current`),
    log: {
      records: list(o.records, `${what}.records`, record),
      folded: list(o.folded, `${what}.folded`, bucket),
      longest: o.longest === null ? null : record(o.longest, `${what}.longest`),
      gaps: list(o.gaps, `${what}.gaps`, gap),
    },
    selfTest: selfTest(o.selfTest, `${what}.selfTest`),
  };
}

/** The entries of a history file's text, or the problem that makes the whole file unusable. Pure. */
export function parseHistoryFile(text: string): HistoryLoad {
  const entries = new Map<string, UpsHistoryEntry>();
  try {
    const file = object(JSON.parse(text), 'the file');
    if (file.version !== 1) throw new Bad('not a history file of version 1');
    for (const [ups, value] of Object.entries(object(file.ups, 'ups'))) entries.set(ups, entry(value, ups));
    return { ok: true, entries };
  } catch (error) {
    const problem = error instanceof SyntaxError ? `not JSON (${error.message})` : (error as Error).message;
    return { ok: false, entries: new Map(), problem, canSave: true };
  }
}

export function historyFileText(entries: ReadonlyMap<string, UpsHistoryEntry>): string {
  const ups = Object.fromEntries(
    [...entries].map(([name, e]) => [
      name,
      { since: e.since, seenUntil: e.seenUntil, current: e.current, ...e.log, selfTest: e.selfTest },
    ]),
  );
  return `${JSON.stringify({ version: 1, ups })}\n`;
}

/** Reads the file; a missing one is a fresh start, an unusable one is renamed `<file>.bad` (kept for a person). */
export async function loadHistoryFile(dataPath: string): Promise<HistoryLoad> {
  const path = join(dataPath, HISTORY_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'it does not exist (yet)' : (error as Error).message;
    return { ok: false, entries: new Map(), problem, canSave: code === 'ENOENT' };
  }
  const parsed = parseHistoryFile(text);
  if (!parsed.ok) {
    const kept = await rename(path, `${path}.bad`).then(
      () => true,
      () => false,
    );
    return kept
      ? { ...parsed, problem: `${parsed.problem}; kept as ${HISTORY_FILE}.bad` }
      : {
          ...parsed,
          problem: `${parsed.problem}; it could not be set aside, so it is not written over`,
          canSave: false,
        };
  }
  return parsed;
}

export async function saveHistoryFile(
  dataPath: string,
  entries: ReadonlyMap<string, UpsHistoryEntry>,
): Promise<void> {
  await writeFileAtomic(join(dataPath, HISTORY_FILE), historyFileText(entries));
}
