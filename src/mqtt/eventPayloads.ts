import type {
  BridgeEventFields,
  BridgeEventOf,
  BridgeEventType,
  EventJson,
  StatusEventType,
  UpsEventFields,
  UpsEventOf,
  UpsEventType,
} from '../api/payloads.js';
import type { BusEventName, BusEvents } from '../events.js';
import { statusFlags, statusLabel } from '../nut/upsStatus.js';

type Converter<K extends BusEventName> = (payload: BusEvents[K]) => EventJson[];

// One entry per bus event, so adding an event to BusEvents fails compilation here until it is mapped.
const CONVERTERS: { [K in BusEventName]: Converter<K> } = {
  'state-changed': (p) => [ups('state-changed', p, { from: p.from, to: p.to })],
  ready: (p) => [ups('ready', p, { startup_ms: p.startupMs })],
  stale: (p) => [ups('stale', p, { source: p.source })],
  'stale-cleared': (p) => [ups('stale-cleared', p, {})],
  hung: (p) => [ups('hung', p, { silent_ms: p.silentMs, timeout_ms: p.timeoutMs })],
  'driver-exited': (p) => [
    ups('driver-exited', p, { child_pid: p.childPid, code: p.code, signal: p.signal, expected: p.expected }),
  ],
  'driver-started': (p) => [ups('driver-started', p, { child_pid: p.childPid })],
  'driver-spinning': (p) => [
    ups('driver-spinning', p, {
      child_pid: p.childPid,
      cpu_share: Math.round(p.cpuShare * 1000) / 1000,
      duration_ms: p.durationMs,
    }),
  ],
  'usb-reset': (p) => [ups('usb-reset', p, { result: p.result, device: p.device, detail: p.detail })],
  'usb-problem': (p) => [ups('usb-problem', p, { problem: p.problem, text: p.text, line: p.line })],
  'tuning-hint': (p) => [
    ups('tuning-hint', p, {
      hint: p.hint,
      kind: p.kind,
      count_24h: p.count24h,
      threshold: p.threshold,
      text: p.text,
      options: [...p.options],
    }),
  ],
  outage: (p) => [
    ups('outage', p, {
      outages: p.outages,
      start: isoTime(p.start),
      start_seen: p.startSeen,
      end: p.end === null ? null : isoTime(p.end),
      duration_s: p.end === null ? null : seconds(p.end - p.start),
      on_battery_s: seconds(p.onBatteryMs),
      battery_wh: p.wh,
      complete: p.complete,
      outages_24h: p.count24h,
      on_battery_24h_s: seconds(p.onBattery24hMs),
    }),
  ],
  'history-gap': (p) => [
    ups('history-gap', p, {
      from: isoTime(p.from),
      to: isoTime(p.to),
      duration_s: seconds(p.to - p.from),
      on_battery_before: p.onBatteryBefore,
      on_battery_after: p.onBatteryAfter,
    }),
  ],
  'self-test-started': (p) => [ups('self-test-started', p, { test: p.test, origin: p.origin })],
  'self-test': (p) => [
    ups('self-test', p, {
      test: p.test,
      result: p.result,
      detail: p.detail,
      origin: p.origin,
      started_at: p.startedAt === null ? null : isoTime(p.startedAt),
      duration_s: p.startedAt === null ? null : seconds(p.at - p.startedAt),
    }),
  ],
  'self-test-deferred': (p) => [ups('self-test-deferred', p, { test: p.test, reason: p.reason })],
  recovering: (p) => [ups('recovering', p, { reason: p.reason, attempt: p.attempt })],
  'force-killed': (p) => [ups('force-killed', p, { child_pid: p.childPid })],
  recovered: (p) => [
    ups('recovered', p, {
      reason: p.reason,
      duration_ms: p.durationMs,
      since_fresh_ms: p.sinceFreshMs,
      attempt: p.attempt,
    }),
  ],
  'recovery-failed': (p) => [
    ups('recovery-failed', p, {
      reason: p.reason,
      error: p.error,
      attempt: p.attempt,
      retry_in_ms: p.retryInMs,
      circuit_open: p.circuitOpen,
      circuit_reason: p.circuitReason,
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
 * several for a `status-changed` that e.g. goes on battery and low battery at once, one otherwise. Objects with
 * `ups` belong on `<base>/<ups>/event`, the others (upsd's) on `<base>/bridge/event`. Example:
 * `{"type":"recovered","ups":"ups1","reason":"hung","duration_ms":3120,"since_fresh_ms":5200,"attempt":1,"at":"…"}`.
 */
export function eventPayloads<K extends BusEventName>(event: K, payload: BusEvents[K]): EventJson[] {
  const convert: Converter<K> = CONVERTERS[event];
  return convert(payload);
}

/** Milliseconds as seconds with one decimal (0 for a bad value: a duration never throws here). */
export function seconds(ms: number): number {
  return Number.isFinite(ms) ? Math.round(ms / 100) / 10 : 0;
}

export function isoTime(epochMs: number): string | null {
  return Number.isFinite(epochMs) && Math.abs(epochMs) <= 8.64e15 ? new Date(epochMs).toISOString() : null;
}

function ups<T extends UpsEventType>(
  type: T,
  p: { ups: string; at: number },
  fields: UpsEventFields[T],
): UpsEventOf<T> {
  // The compiler cannot relate the spread of a generic field set to the mapped type; `fields` is checked above.
  return { type, ups: p.ups, ...fields, at: isoTime(p.at) } as unknown as UpsEventOf<T>;
}

function agent<T extends BridgeEventType>(
  type: T,
  p: { at: number },
  fields: BridgeEventFields[T],
): BridgeEventOf<T> {
  return { type, ...fields, at: isoTime(p.at) } as BridgeEventOf<T>;
}

/**
 * Event types published for a status change, in this order:
 * - `on-battery` — OB appears;
 * - `on-line` — OL appears while OB was set before (mains is back; not at start-up, not after WAIT);
 * - `low-battery` / `battery-ok` — LB appears / clears;
 * - `replace-battery` — RB appears;
 * - `overload` — OVER appears;
 * - `forced-shutdown` — FSD appears (upsmon is shutting systems down);
 * - `status-changed` — always last, whenever the set of flags differs.
 *
 * `prev` undefined means the first status seen since the agent started: only `status-changed` is reported,
 * because nothing is known to have *changed* (an agent restart during an outage must not announce a new one).
 * Callers that want transitions across a `WAIT` should pass the last status before it.
 */
export function statusEvents(prevStatus: string | undefined, nextStatus: string): StatusEventType[] {
  const prev = statusFlags(prevStatus);
  const next = statusFlags(nextStatus);
  if (prevStatus !== undefined && sameFlags(prev, next)) return [];
  const events: StatusEventType[] = [];
  if (prevStatus !== undefined) {
    const appeared = (flag: string) => next.has(flag) && !prev.has(flag);
    if (appeared('OB')) events.push('on-battery');
    if (appeared('OL') && prev.has('OB') && !next.has('OB')) events.push('on-line');
    if (appeared('LB')) events.push('low-battery');
    if (prev.has('LB') && !next.has('LB')) events.push('battery-ok');
    if (appeared('RB')) events.push('replace-battery');
    if (appeared('OVER')) events.push('overload');
    if (appeared('FSD')) events.push('forced-shutdown');
  }
  events.push('status-changed');
  return events;
}

function sameFlags(a: Set<string>, b: Set<string>): boolean {
  return a.size === b.size && [...a].every((flag) => b.has(flag));
}
