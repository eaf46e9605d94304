/**
 * The JSON and text payloads of the MQTT API, as types: what src/mqtt publishes and what a subscriber (Home
 * Assistant's templates, the tests) may rely on. Keys are snake_case; times are ISO 8601 UTC strings.
 */
import type { EpisodeCounts, EpisodeKind } from '../hints/episodeCounter.js';
import type { AttentionReason, BatteryDateSource } from '../history/batteryCare.js';
import type { SelfTestOrigin, SelfTestResult } from '../history/selfTest.js';
import type { DeferReason } from '../history/selfTestSchedule.js';
import type { RecoveryReason, StaleSource, SupervisionState } from '../supervisor/types.js';
import type { UsbProblem } from '../usb/usbProblem.js';
import type { SelfTestType } from './commands.js';

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

/**
 * Retained JSON on `<base>/<ups>/history`: outages, self-tests and battery care of one UPS. Flat, so Home Assistant
 * templates read each value directly (`null` renders as unknown). Times are ISO 8601 UTC, durations seconds (one
 * decimal). Republished when something in it changes (at most every 2 s), every 5 s while on battery (the live
 * time on battery), and every MQTT_STATE_REFRESH_INTERVAL.
 */
export interface UpsHistoryJson {
  /** ups.status has OB (a self-test on battery is not counted); null while no status is known. */
  on_battery: boolean | null;
  /** Since the outage began (0 on line; null while no status is known). */
  time_on_battery_s: number | null;
  on_battery_since: string | null;
  /** The last outage that ended: null `end` (and duration) when it ended while the agent was not watching. */
  last_outage_start: string | null;
  last_outage_end: string | null;
  last_outage_duration_s: number | null;
  /** Energy drawn from the battery in it (from the energy meter's power); null without a power source. */
  last_outage_battery_wh: number | null;
  /** The agent saw the last outage whole: its start, its end, and no time it was down in between. */
  last_outage_complete: boolean | null;
  longest_outage_start: string | null;
  longest_outage_end: string | null;
  longest_outage_duration_s: number | null;
  /** Outages that began in the last 24 h / 30 days (an ongoing one included), time on battery in them. */
  outages_24h: number;
  on_battery_24h_s: number;
  /** Time of the window the agent did not watch the UPS (it was down): outages then are not in the figures. */
  unwatched_24h_s: number;
  outages_30d: number;
  on_battery_30d_s: number;
  unwatched_30d_s: number;
  /** When this UPS's history began. */
  watched_since: string | null;
  /** The UPS's driver lists test.battery.start.quick or .deep. */
  self_test_supported: boolean;
  /** A test the agent started is running (it is followed until its result). */
  self_test_running: boolean;
  /** The last finished test (any origin): null before the first. */
  self_test_result: SelfTestResult | null;
  self_test_detail: string | null;
  self_test_type: SelfTestType | null;
  self_test_origin: SelfTestOrigin | null;
  self_test_started_at: string | null;
  self_test_at: string | null;
  /** When the schedule's next test may start; null without a schedule (or for a UPS it cannot test). */
  next_self_test_at: string | null;
  /** The battery's date (`YYYY-MM-DD`) and where it comes from; null where the UPS reports no usable date. */
  battery_date: string | null;
  battery_date_source: BatteryDateSource | null;
  battery_age_days: number | null;
  /** The battery's date plus BATTERY_LIFE_MONTHS, `YYYY-MM-DD`. */
  battery_replace_by: string | null;
  /** The RB flag or a failed last self-test. */
  battery_attention: boolean;
  battery_attention_reasons: AttentionReason[];
  /** The reasons in words; null when there are none. */
  battery_attention_text: string | null;
}

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
  /**
   * An outage ended (at most one event a minute while an input flaps: `outages` then counts several, `start` is the
   * first's, `end` the last's, `on_battery_s` and `battery_wh` their sums). `end` and `duration_s` are null when it
   * ended while the agent was not watching; `complete`: the agent saw all of it.
   */
  outage: {
    outages: number;
    start: string | null;
    start_seen: boolean;
    end: string | null;
    duration_s: number | null;
    on_battery_s: number;
    battery_wh: number | null;
    complete: boolean;
    outages_24h: number;
    on_battery_24h_s: number;
  };
  /** The agent did not watch the UPS from `from` to `to` (it was down); nothing of that time is guessed. */
  'history-gap': {
    from: string | null;
    to: string | null;
    duration_s: number;
    on_battery_before: boolean;
    on_battery_after: boolean;
  };
  'self-test-started': { test: SelfTestType; origin: Exclude<SelfTestOrigin, 'ups'> };
  /** `result` `not-started`: the start command failed (`detail`: NUT's word). */
  'self-test': {
    test: SelfTestType | null;
    result: SelfTestResult | 'not-started';
    detail: string;
    origin: SelfTestOrigin;
    started_at: string | null;
    duration_s: number | null;
  };
  /** A scheduled test is due but waits (`reason`); it starts once it may, within the hour from BATTERY_SELF_TEST_AT. */
  'self-test-deferred': { test: SelfTestType; reason: DeferReason };
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
