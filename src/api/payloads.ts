/**
 * The JSON and text payloads of the MQTT API, as types: what src/mqtt publishes and what a subscriber (Home
 * Assistant's templates, the tests) may rely on. Keys are snake_case; times are ISO 8601 UTC strings.
 */
import type { EpisodeCounts, EpisodeKind } from '../hints/episodeCounter.js';
import type { RecoveryReason, StaleSource, SupervisionState } from '../supervisor/types.js';
import type { UsbProblem } from '../usb/usbProblem.js';

/** `<base>/bridge/state` (also the last will) and `<base>/<ups>/availability`. */
export type Availability = 'online' | 'offline';

/** The `supervisor` object of a UPS's state: the agent's view of its driver. */
export interface SupervisorJson {
  state: SupervisionState;
  restarts: number;
  /** ISO 8601 UTC, null before the first restart. */
  last_restart_at: string | null;
  last_restart_reason: RecoveryReason | null;
  /** Whole seconds since the last fresh data; null if none was seen yet. */
  seconds_since_fresh: number | null;
  /**
   * Why a USB driver cannot get at its device while that lasts (`claimed`, `access`, `not-found`; the last
   * `usb-problem` event says what to check), else null.
   */
  usb_problem: UsbProblem | null;
  /**
   * Fault episodes in the last 24 h by kind (`stale`, `hang`, `spin`); one fault counts once, under the kind that
   * first flagged it. Absent only where no counter is wired (never in the agent).
   */
  episodes_24h?: EpisodeCounts;
}

/** Where `power_w` comes from, best first (see src/energy/powerSource.ts). */
export type PowerSource =
  | 'ups.realpower'
  | 'ups.load*ups.realpower.nominal'
  | 'ups.load*ups.power.nominal*pf';

/**
 * Retained JSON on `<base>/<ups>`: every NUT variable under its NUT name (a JSON number when it is a plain decimal
 * quantity, or a battery runtime in a clock form such as `1:57`, in seconds; else the string NUT sent), except
 * that a measurement read by a numeric Home Assistant sensor is always a number or null (no reading, e.g. NUT's
 * `XX.X`); sorted by name, then keys of the agent's own; NUT names always contain a dot, these never do, so they
 * cannot clash:
 * - `status_label`: ups.status in words, e.g. "Online, charging" (Home Assistant's Status sensor shows it);
 * - `power_w`, `power_source`, `energy_kwh`: only for a UPS with a power source: its output power in W (one
 *   decimal), where that comes from, and the energy integrated by the agent in kWh (never decreasing; kept across
 *   restarts in DATA_PATH);
 * - `supervisor`: the driver's supervision state, restart count and data age.
 */
export type UpsStateJson = Record<string, string | number | null | SupervisorJson> & {
  status_label: string;
  power_w?: number;
  power_source?: PowerSource;
  energy_kwh?: number;
  supervisor: SupervisorJson;
};

/** Retained JSON on `<base>/bridge/info`. */
export interface BridgeInfoJson {
  version: string;
  nut_version: string | null;
  /** `host:port` of upsd. */
  upsd: string;
  ups: string[];
  /** The effective configuration, secrets replaced by `***`. */
  config: unknown;
}

interface ChildExit {
  child_pid: number;
  code: number | null;
  signal: string | null;
  /** The agent stopped it (a restart or shutdown), rather than it dying on its own. */
  expected: boolean;
}

/** A ups.status flag appeared or cleared; see STATUS_EVENT_TYPES. */
interface StatusFields {
  status: string;
  label: string;
}

/** Events derived from ups.status transitions, in the order they are published (`status-changed` comes last). */
const STATUS_EVENT_TYPES = [
  'on-battery',
  'on-line',
  'low-battery',
  'battery-ok',
  'replace-battery',
  'overload',
  'forced-shutdown',
  'status-changed',
] as const;

export type StatusEventType = (typeof STATUS_EVENT_TYPES)[number];

/** The fields of each event on `<base>/<ups>/event`, by `type`, besides `type`, `ups` and `at`. */
export interface UpsEventFields {
  'state-changed': { from: SupervisionState; to: SupervisionState };
  ready: { startup_ms: number };
  stale: { source: StaleSource };
  'stale-cleared': Record<never, never>;
  hung: { silent_ms: number; timeout_ms: number };
  'driver-exited': ChildExit;
  'driver-started': { child_pid: number };
  /** `cpu_share`: mean share of one core (0–1) over the busy stretch of `duration_ms`. */
  'driver-spinning': { child_pid: number; cpu_share: number; duration_ms: number };
  /**
   * `result`: `reset` (the device's sysfs `authorized` went 0, then 1), `refused` (none or several devices match
   * ups.conf: nothing touched), `failed`; `device`: the sysfs name (e.g. `1-1.2`) when one matched.
   */
  'usb-reset': { result: 'reset' | 'refused' | 'failed'; device: string | null; detail: string };
  /**
   * `problem`: `claimed` (another program holds the interface), `access` (the device node may not be opened),
   * `not-found` (no device matches ups.conf), null once the driver has its device again; `text`: what to check;
   * `line`: the driver's words.
   */
  'usb-problem': { problem: UsbProblem | null; text: string; line: string | null };
  recovering: { reason: RecoveryReason; attempt: number };
  /**
   * `hint`: the rule's id (e.g. `usbhid-cyberpower-stale`); `count_24h` episodes of `kind` in 24 h reached
   * `threshold`; `options`: ups.conf lines for the UPS's section that could help (the agent never edits ups.conf).
   */
  'tuning-hint': {
    hint: string;
    kind: EpisodeKind;
    count_24h: number;
    threshold: number;
    text: string;
    options: string[];
  };
  'force-killed': { child_pid: number };
  /**
   * `duration_ms`: from the fault's detection to fresh data; `since_fresh_ms`: from the last fresh data before the
   * fault (the real outage, detection delay included), null if the UPS had none since the agent started.
   */
  recovered: { reason: RecoveryReason; duration_ms: number; since_fresh_ms: number | null; attempt: number };
  'recovery-failed': {
    reason: RecoveryReason;
    error: string;
    attempt: number;
    retry_in_ms: number;
    circuit_open: boolean;
    /** Why the circuit is open: `failures` (failed recoveries in the window) or `storm` (restarts); null while closed. */
    circuit_reason: 'failures' | 'storm' | null;
  };
  'status-changed': { from: string | null; to: string; label: string; source: 'driver' | 'upsd' };
  'on-battery': StatusFields;
  'on-line': StatusFields;
  'low-battery': StatusFields;
  'battery-ok': StatusFields;
  'replace-battery': StatusFields;
  overload: StatusFields;
  'forced-shutdown': StatusFields;
}

/** The fields of each event on `<base>/bridge/event`, by `type`, besides `type` and `at`. */
export interface BridgeEventFields {
  'upsd-started': { child_pid: number };
  'upsd-exited': ChildExit;
  'upsd-restarted': { reason: string; duration_ms: number };
  'upsd-unresponsive': { error: string };
}

export type UpsEventType = keyof UpsEventFields;
export type BridgeEventType = keyof BridgeEventFields;

/** `at` is null only if the bus carried an invalid time (never expected; kept so a bad value cannot throw). */
type Stamped<T extends string> = { type: T; at: string | null };

/** One JSON object on `<base>/<ups>/event` of one type, e.g. `{"type":"hung","ups":"ups1","silent_ms":2001,"at":"…"}`. */
export type UpsEventOf<T extends UpsEventType> = Stamped<T> & { ups: string } & UpsEventFields[T];

/** One JSON object on `<base>/bridge/event` of one type, e.g. `{"type":"upsd-unresponsive","error":"…","at":"…"}`. */
export type BridgeEventOf<T extends BridgeEventType> = Stamped<T> & BridgeEventFields[T];

/** Any event on `<base>/<ups>/event`: narrow it by `type`. */
export type UpsEventJson = { [K in UpsEventType]: UpsEventOf<K> }[UpsEventType];

/** Any event on `<base>/bridge/event`: narrow it by `type`. */
export type BridgeEventJson = { [K in BridgeEventType]: BridgeEventOf<K> }[BridgeEventType];

export type EventJson = UpsEventJson | BridgeEventJson;
