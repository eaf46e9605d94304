import type { BusEventName, BusEvents } from '../events.js';
import { statusEvents, statusLabel } from './upsStatus.js';

/**
 * One JSON object published on an event topic. Keys are snake_case, `at` is ISO 8601 UTC.
 * Objects with `ups` belong on `<base>/<ups>/event`, the others (upsd's) on `<base>/bridge/event`.
 */
export interface EventJson {
  type: string;
  ups?: string;
  /** null only if the bus carried an invalid time (never expected; kept so a bad value cannot throw). */
  at: string | null;
  [field: string]: unknown;
}

type Converter<K extends BusEventName> = (payload: BusEvents[K]) => EventJson[];

// One entry per bus event, so adding an event to BusEvents fails compilation here until it is mapped.
const CONVERTERS: { [K in BusEventName]: Converter<K> } = {
  'state-changed': (p) => [ups('state-changed', p, { from: p.from, to: p.to })],
  ready: (p) => [ups('ready', p, { startup_ms: p.startupMs })],
  stale: (p) => [ups('stale', p, { source: p.source })],
  'stale-cleared': (p) => [ups('stale-cleared', p, {})],
  hung: (p) => [ups('hung', p, { silent_ms: p.silentMs })],
  'driver-exited': (p) => [
    ups('driver-exited', p, { child_pid: p.childPid, code: p.code, signal: p.signal, expected: p.expected }),
  ],
  'driver-started': (p) => [ups('driver-started', p, { child_pid: p.childPid })],
  recovering: (p) => [ups('recovering', p, { reason: p.reason, attempt: p.attempt })],
  'force-killed': (p) => [ups('force-killed', p, { child_pid: p.childPid })],
  recovered: (p) => [
    ups('recovered', p, { reason: p.reason, duration_ms: p.durationMs, attempt: p.attempt }),
  ],
  'recovery-failed': (p) => [
    ups('recovery-failed', p, {
      reason: p.reason,
      error: p.error,
      attempt: p.attempt,
      retry_in_ms: p.retryInMs,
      circuit_open: p.circuitOpen,
    }),
  ],
  'status-changed': (p) =>
    statusEvents(p.from, p.to).map((type) =>
      type === 'status-changed'
        ? ups(type, p, { from: p.from ?? null, to: p.to, label: statusLabel(p.to), source: p.source })
        : ups(type, p, { status: p.to, label: statusLabel(p.to) }),
    ),
  // State, not an event: published on `<base>/<ups>` by stateJson().
  'ups-updated': () => [],
  'upsd-started': (p) => [agent('upsd-started', p, { child_pid: p.childPid })],
  'upsd-exited': (p) => [
    agent('upsd-exited', p, { child_pid: p.childPid, code: p.code, signal: p.signal, expected: p.expected }),
  ],
  'upsd-restarted': (p) => [agent('upsd-restarted', p, { reason: p.reason, duration_ms: p.durationMs })],
  'upsd-unresponsive': (p) => [agent('upsd-unresponsive', p, { error: p.error })],
};

/**
 * The event JSON objects for one bus event: none for `ups-updated` (or a status "change" that changes no flag),
 * several for a `status-changed` that e.g. goes on battery and low battery at once, one otherwise. Example:
 * `{"type":"recovered","ups":"ups1","reason":"hung","duration_ms":3120,"attempt":1,"at":"2026-01-02T03:04:05.000Z"}`.
 */
export function eventPayloads<K extends BusEventName>(event: K, payload: BusEvents[K]): EventJson[] {
  const convert: Converter<K> = CONVERTERS[event];
  return convert(payload);
}

export function isoTime(epochMs: number): string | null {
  return Number.isFinite(epochMs) && Math.abs(epochMs) <= 8.64e15 ? new Date(epochMs).toISOString() : null;
}

function ups(type: string, p: { ups: string; at: number }, fields: Record<string, unknown>): EventJson {
  return { type, ups: p.ups, ...fields, at: isoTime(p.at) };
}

function agent(type: string, p: { at: number }, fields: Record<string, unknown>): EventJson {
  return { type, ...fields, at: isoTime(p.at) };
}
