import type { Availability, BridgeInfoJson, SupervisorJson, UpsStateJson } from '../api/payloads.js';
import type { EnergyReading } from '../energy/energyMeter.js';
import type { EpisodeCounts } from '../hints/episodeCounter.js';
import { NUMERIC_SENSORS } from '../homeassistant/sensors.js';
import { statusLabel } from '../nut/upsStatus.js';
import { parseMeasurement, parseNutValue } from '../nut/values.js';
import type { UpsSnapshot } from '../supervisor/types.js';
import { isoTime } from './eventPayloads.js';

/**
 * The variables numeric Home Assistant sensors read (a unit, a state class): in the state they are a number or null,
 * never text. Home Assistant refuses a word (`XX.X`) on such a sensor and keeps the last value on an absent one;
 * null renders as None, which it shows as unknown. This is the state's own rule, not only discovery's, so every
 * subscriber can rely on it; the raw text is not kept beside it: a placeholder says "no reading" and nothing more,
 * a clock-form runtime converts without loss, and `upsc` shows what the driver wrote.
 */
const MEASUREMENT_VARIABLES: ReadonlySet<string> = new Set(NUMERIC_SENSORS.map((spec) => spec.variable));

/** The JSON value of one NUT variable in the state: see parseMeasurement (measurements) and parseNutValue. */
export function stateValue(name: string, raw: string): string | number | null {
  return MEASUREMENT_VARIABLES.has(name) ? parseMeasurement(name, raw) : parseNutValue(name, raw);
}

/**
 * The retained JSON on `<base>/<ups>` (see UpsStateJson): variables per stateValue, then the agent's keys, with
 * `power_w`, `power_source` and `energy_kwh` when the UPS has a power source (`energy`, from the energy meter), and
 * the supervisor's `episodes_24h` when given (`episodes`, from the episode counter).
 */
export function stateJson(
  snapshot: UpsSnapshot,
  now: number,
  energy?: EnergyReading,
  episodes?: EpisodeCounts,
): UpsStateJson {
  const vars: Record<string, string | number | null> = {};
  for (const name of Object.keys(snapshot.vars).sort()) {
    const raw = snapshot.vars[name];
    if (raw !== undefined) vars[name] = stateValue(name, raw);
  }
  // Assigned after the variables: a malformed dot-less variable name can never replace the agent's own keys.
  return {
    ...vars,
    status_label: statusLabel(snapshot.vars['ups.status']),
    ...(energy
      ? {
          power_w: round(energy.power.watts, 1),
          power_source: energy.power.source,
          energy_kwh: round(energy.kwh, ENERGY_DECIMALS),
        }
      : {}),
    supervisor: { ...supervisorJson(snapshot, now), ...(episodes ? { episodes_24h: { ...episodes } } : {}) },
  };
}

/** 1 mWh: fine enough for any dashboard, coarse enough not to look like noise. */
const ENERGY_DECIMALS = 6;

function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

/**
 * `driver.state` phases a NUT 2.8.1+ driver passes through on every update (updateinfo, then quiet again): they say
 * "running normally" either way, and republishing the retained state each time (once a second on a dummy-ups
 * UPS) would be churn for every subscriber. Other phases (reconnect.trying, reloading, init.*…) are news.
 */
const ROUTINE_DRIVER_STATES = new Set(['updateinfo', 'quiet']);

/**
 * What decides whether a state message is worth publishing: the state without the clock (seconds_since_fresh), without
 * the energy total (it grows with every sample; it rides every other publish and the refresh interval) and with the
 * routine driver.state cycle folded into one value.
 */
export function stateChangeKey(json: UpsStateJson): string {
  const driverState = json['driver.state'];
  const folded =
    typeof driverState === 'string' && ROUTINE_DRIVER_STATES.has(driverState)
      ? { 'driver.state': 'routine' }
      : {};
  return JSON.stringify({
    ...json,
    ...folded,
    energy_kwh: null,
    supervisor: { ...json.supervisor, seconds_since_fresh: null },
  });
}

function supervisorJson(snapshot: UpsSnapshot, now: number): SupervisorJson {
  const view = snapshot.supervisor;
  const { lastFreshAt } = view;
  return {
    state: view.state,
    restarts: view.restarts,
    last_restart_at: view.lastRestartAt === undefined ? null : isoTime(Date.parse(view.lastRestartAt)),
    last_restart_reason: view.lastRestartReason ?? null,
    seconds_since_fresh:
      lastFreshAt === undefined || !Number.isFinite(lastFreshAt)
        ? null
        : Math.max(0, Math.floor((now - lastFreshAt) / 1000)),
    usb_problem: view.usbProblem ?? null,
  };
}

/** `<base>/<ups>/availability`: online only while the supervisor has fresh data (state `ok`). */
export function availabilityOf(snapshot: UpsSnapshot): Availability {
  return snapshot.supervisor.state === 'ok' ? 'online' : 'offline';
}

export interface BridgeInfoInput {
  agentVersion: string;
  /** upsd's version (`VER`), when known. */
  nutVersion?: string;
  upsd: { host: string; port: number };
  upsNames: readonly string[];
  /** The effective configuration; secrets are redacted here, whatever the caller passes. */
  config?: unknown;
}

/** Retained JSON on `<base>/bridge/info`. */
export function bridgeInfo(input: BridgeInfoInput): BridgeInfoJson {
  const host = input.upsd.host.includes(':') ? `[${input.upsd.host}]` : input.upsd.host;
  return {
    version: input.agentVersion,
    nut_version: input.nutVersion ?? null,
    upsd: `${host}:${input.upsd.port}`,
    ups: [...input.upsNames],
    config: redactSecrets(input.config ?? {}),
  };
}

const SECRET_KEY = /pass|secret|token|credential|private|apikey|api_key|^key$/i;
const URL_USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i;
export const REDACTED = '***';

/**
 * A deep copy with secrets replaced by `***`: values under keys that look secret (password, token, …) and the
 * user:password part of URLs (`mqtt://user:pw@host` → `mqtt://***@host`). The key is kept, so the info still
 * shows that a password is set.
 */
export function redactSecrets(value: unknown, ancestors: Set<object> = new Set()): unknown {
  if (typeof value === 'string') return value.replace(URL_USERINFO, `$1${REDACTED}@`);
  if (typeof value !== 'object' || value === null) return value;
  if (ancestors.has(value)) return '[circular]';
  ancestors.add(value);
  let copy: unknown;
  if (Array.isArray(value)) {
    copy = value.map((item) => redactSecrets(item, ancestors));
  } else {
    const fields: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      fields[key] =
        SECRET_KEY.test(key) && child !== '' && child != null ? REDACTED : redactSecrets(child, ancestors);
    }
    copy = fields;
  }
  ancestors.delete(value);
  return copy;
}
