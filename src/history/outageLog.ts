/**
 * One UPS's outages over the last 30 days, and the times the agent did not watch it. Pure: records and a clock in,
 * records and figures out. An outage is a stretch on battery (`OB`); times are epoch ms.
 *
 * Nothing is guessed: an outage that began or ended while the agent was down says so (`startSeen`, `end` null), and
 * time on battery that fell in such a gap is not counted as time on battery (the window's `unwatchedMs` says how
 * much of it the agent did not see).
 */

export interface OutageRecord {
  /** When the agent saw the UPS go on battery; for `startSeen: false`, the first time it saw it on battery. */
  start: number;
  /** false: the UPS was already on battery when the agent first saw it (after a time it did not watch it). */
  startSeen: boolean;
  /** When the agent saw it back on line; null: it came back while the agent did not watch it. */
  end: number | null;
  /** The last time the agent saw it on battery (`end` when that is known). */
  lastSeen: number;
  /** Energy drawn from the battery (Wh) as the energy meter integrated it; null without a power source. */
  wh: number | null;
}

/** A time the agent did not watch the UPS: it was down (or had no fresh data from it when it stopped). */
export interface Gap {
  from: number;
  to: number;
}

/** Outages past MAX_RECORDS, folded per hour of their start (a flapping input): counted, no longer itemised. */
export interface HourBucket {
  hour: number;
  count: number;
  /** Time on battery the agent saw, ms. */
  ms: number;
}

export interface OutageLog {
  /** Oldest first; at most MAX_RECORDS; none that ended more than KEEP_MS ago. */
  records: OutageRecord[];
  folded: HourBucket[];
  /** The longest outage ever recorded (kept past KEEP_MS). */
  longest: OutageRecord | null;
  /** Oldest first; none that ended more than KEEP_MS ago. */
  gaps: Gap[];
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
/** The longest window the figures cover. */
export const KEEP_MS = 30 * DAY_MS;
/**
 * Outages kept one by one. A real UPS has a handful a month; past this many (an input flapping for hours) the oldest
 * are folded into hourly counts, so the file and the work per update stay small and no outage goes uncounted.
 */
export const MAX_RECORDS = 1000;

export function emptyLog(): OutageLog {
  return { records: [], folded: [], longest: null, gaps: [] };
}

/** The outage's whole length (end − start), null while its end is unknown. */
export function durationMs(record: OutageRecord): number | null {
  return record.end === null ? null : record.end - record.start;
}

/** Whether the agent saw all of it: its start, its end, and nothing of it fell in a gap. */
export function isComplete(record: OutageRecord, gaps: readonly Gap[]): boolean {
  if (!record.startSeen || record.end === null) return false;
  return overlapMs(record.start, record.end, gaps) === 0;
}

/** Time on battery the agent saw in [from, to): the outage's span minus what fell in a gap. */
export function seenOnBatteryMs(
  record: OutageRecord,
  gaps: readonly Gap[],
  from = -Infinity,
  to = Infinity,
): number {
  const start = Math.max(record.start, from);
  const end = Math.min(record.end ?? record.lastSeen, to);
  if (end <= start) return 0;
  return end - start - overlapMs(start, end, gaps);
}

/** Adds an ended outage: keeps the longest, folds the oldest past MAX_RECORDS. */
export function addRecord(log: OutageLog, record: OutageRecord): OutageLog {
  const records = [...log.records, record];
  let folded = log.folded;
  while (records.length > MAX_RECORDS) {
    const oldest = records.shift() as OutageRecord;
    folded = foldInto(folded, oldest, log.gaps);
  }
  return { ...log, records, folded, longest: longer(log.longest, record, log.gaps) };
}

export function addGap(log: OutageLog, gap: Gap): OutageLog {
  return gap.to > gap.from ? { ...log, gaps: [...log.gaps, gap] } : log;
}

/** Drops what ended before `now − KEEP_MS` (the longest outage stays). */
export function prune(log: OutageLog, now: number): OutageLog {
  const cutoff = now - KEEP_MS;
  return {
    ...log,
    records: log.records.filter((r) => (r.end ?? r.lastSeen) >= cutoff),
    folded: log.folded.filter((b) => b.hour + HOUR_MS > cutoff),
    gaps: log.gaps.filter((g) => g.to >= cutoff),
  };
}

export interface WindowFigures {
  /** Outages that started in the window (an ongoing one included). */
  count: number;
  /** Time on battery the agent saw in the window. */
  onBatteryMs: number;
  /** Time in the window the agent did not watch the UPS: the figures may miss outages of that time. */
  unwatchedMs: number;
}

/**
 * Figures for the window [now − spanMs, now). `current` is an ongoing outage (its end unknown yet: up to now).
 * Folded hours count whole when their hour starts inside the window: only a flapping input folds, and then the
 * window's edge is an hour wide for that part.
 */
export function windowFigures(
  log: OutageLog,
  current: OutageRecord | null,
  now: number,
  spanMs: number,
): WindowFigures {
  const from = now - spanMs;
  let count = 0;
  let onBatteryMs = 0;
  const all = current ? [...log.records, { ...current, lastSeen: now }] : log.records;
  for (const record of all) {
    if (record.start >= from && record.start < now) count += 1;
    onBatteryMs += seenOnBatteryMs(record, log.gaps, from, now);
  }
  for (const bucket of log.folded) {
    if (bucket.hour < from || bucket.hour >= now) continue;
    count += bucket.count;
    onBatteryMs += bucket.ms;
  }
  const unwatchedMs = log.gaps.reduce((sum, g) => sum + clip(g.from, g.to, from, now), 0);
  return { count, onBatteryMs, unwatchedMs };
}

function foldInto(folded: HourBucket[], record: OutageRecord, gaps: readonly Gap[]): HourBucket[] {
  const hour = Math.floor(record.start / HOUR_MS) * HOUR_MS;
  const ms = seenOnBatteryMs(record, gaps);
  const found = folded.find((b) => b.hour === hour);
  if (found) return folded.map((b) => (b === found ? { hour, count: b.count + 1, ms: b.ms + ms } : b));
  return [...folded, { hour, count: 1, ms }].sort((a, b) => a.hour - b.hour);
}

function longer(best: OutageRecord | null, record: OutageRecord, gaps: readonly Gap[]): OutageRecord {
  if (!best) return record;
  const length = (r: OutageRecord) => durationMs(r) ?? seenOnBatteryMs(r, gaps);
  return length(record) > length(best) ? record : best;
}

/** How much of [start, end) the gaps cover (gaps do not overlap each other: each is one agent downtime). */
function overlapMs(start: number, end: number, gaps: readonly Gap[]): number {
  return gaps.reduce((sum, g) => sum + clip(g.from, g.to, start, end), 0);
}

function clip(a: number, b: number, from: number, to: number): number {
  return Math.max(0, Math.min(b, to) - Math.max(a, from));
}
