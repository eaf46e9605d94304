/**
 * Which ended outages become an `outage` event, and when. Pure. The first outage in a while is told at once; those
 * that end within `windowMs` of the last event (a flapping input: many short outages) are held and told together in
 * one event when the window is over, so a flapping input gives at most one event per window, and every outage is
 * still in some event.
 */
import { type Gap, type OutageRecord, seenOnBatteryMs } from './outageLog.js';

/** What one `outage` event tells: one outage, or several that ended within one window. */
export interface OutageBatch {
  outages: number;
  /** The first one's start, and whether the agent saw it. */
  start: number;
  startSeen: boolean;
  /** The last one's end; null when it came back unseen. */
  end: number | null;
  /** Time on battery the agent saw, all of them together. */
  onBatteryMs: number;
  /** Energy drawn from the battery, all of them; null when one has no figure. */
  wh: number | null;
  /** Whether the agent saw each of them whole. */
  complete: boolean;
}

export interface GateState {
  lastEmitAt: number | null;
  held: OutageBatch | null;
}

export const OPEN_GATE: GateState = { lastEmitAt: null, held: null };

export function batchOf(record: OutageRecord, complete: boolean, gaps: readonly Gap[]): OutageBatch {
  return {
    outages: 1,
    start: record.start,
    startSeen: record.startSeen,
    end: record.end,
    onBatteryMs: seenOnBatteryMs(record, gaps),
    wh: record.wh,
    complete,
  };
}

/** An outage ended at `now`: tell it now, or hold it until the window is over (`flushAt`). */
export function offer(
  gate: GateState,
  batch: OutageBatch,
  now: number,
  windowMs: number,
): { gate: GateState; emit?: OutageBatch; flushAt?: number } {
  const open = gate.lastEmitAt === null || now - gate.lastEmitAt >= windowMs;
  if (open && gate.held === null) return { gate: { lastEmitAt: now, held: null }, emit: batch };
  const held = gate.held ? merge(gate.held, batch) : batch;
  return { gate: { ...gate, held }, flushAt: (gate.lastEmitAt ?? now) + windowMs };
}

/** The window is over: tell what was held, if anything. */
export function flush(gate: GateState, now: number): { gate: GateState; emit?: OutageBatch } {
  if (gate.held === null) return { gate };
  return { gate: { lastEmitAt: now, held: null }, emit: gate.held };
}

function merge(a: OutageBatch, b: OutageBatch): OutageBatch {
  return {
    outages: a.outages + b.outages,
    start: a.start,
    startSeen: a.startSeen,
    end: b.end,
    onBatteryMs: a.onBatteryMs + b.onBatteryMs,
    wh: a.wh === null || b.wh === null ? null : Math.round((a.wh + b.wh) * 1000) / 1000,
    complete: a.complete && b.complete,
  };
}
