import type { UsbProblem } from '../usb/usbProblem.js';

/** Shared vocabulary of the supervisor: what a UPS's supervision state is, and why a driver gets restarted. */

/**
 * Supervision states of one UPS, the one list (state JSON, Home Assistant's enum options, metrics labels).
 * - `starting`: driver started, no fresh data yet.
 * - `ok`: fresh data.
 * - `suspect`: upsd or the driver reports stale data; waiting out the grace period (drivers sometimes recover).
 * - `recovering`: the recovery ladder runs (stop, force, start, verify fresh data).
 * - `backoff`: the last recovery failed; waiting before the next attempt.
 * - `failed`: the circuit breaker opened (too many restarts in the window); retried slowly.
 * - `stopped`: the agent is shutting down.
 */
export const SUPERVISION_STATES = [
  'starting',
  'ok',
  'suspect',
  'recovering',
  'backoff',
  'failed',
  'stopped',
] as const;

export type SupervisionState = (typeof SUPERVISION_STATES)[number];

/**
 * Why a driver was (or is being) restarted, the one list.
 * - `hung`: the driver stopped answering PING on its socket.
 * - `stale`: upsd answered ERR DATA-STALE, or the driver itself flagged DATASTALE, past the grace period.
 * - `crashed`: the driver process exited.
 * - `not-connected`: upsd answered ERR DRIVER-NOT-CONNECTED past the grace period.
 * - `no-data`: a started driver never produced fresh data in time.
 * - `manual`: asked for (MQTT command, API).
 * - `upsd-restarted`: upsd was restarted; NUT 2.8.0 drivers spin on the dead connection unless restarted too.
 * - `spinning`: the driver burned more than SPIN_CPU_SHARE of a core for SPIN_DURATION (NUT 2.8.0–2.8.2 spin after a
 *   socket client disconnects, while their data stays fresh).
 */
export const RECOVERY_REASONS = [
  'hung',
  'stale',
  'crashed',
  'not-connected',
  'no-data',
  'manual',
  'upsd-restarted',
  'spinning',
] as const;

export type RecoveryReason = (typeof RECOVERY_REASONS)[number];

/** The supervisor's view of one UPS, published by the MQTT side. */
export interface SupervisorView {
  state: SupervisionState;
  /** Driver restarts since the agent started (all reasons). */
  restarts: number;
  /** ISO time of the last restart. */
  lastRestartAt?: string;
  lastRestartReason?: RecoveryReason;
  /** Epoch ms of the last fresh data seen from upsd or the driver. */
  lastFreshAt?: number;
  /** pid of the running driver process. */
  childPid?: number;
  /** Why a USB driver cannot get at its device (usbProblem.ts), while that lasts. */
  usbProblem?: UsbProblem;
}

/** Everything known about one UPS at one moment. */
export interface UpsSnapshot {
  /** UPS name as in ups.conf (the section name). */
  name: string;
  /** `desc` from ups.conf, when set. */
  description?: string;
  /** Driver name from ups.conf (e.g. `usbhid-ups`). */
  driver: string;
  /** NUT variables as last seen (raw strings, NUT names: `battery.charge` → `"100"`). */
  vars: Readonly<Record<string, string>>;
  /** Instant commands the UPS lists (`LIST CMD`), when known. */
  commands: readonly string[];
  supervisor: SupervisorView;
}

/**
 * Who said a UPS's data is stale: upsd (ERR DATA-STALE: STALE_GRACE applies), the driver on its socket (DATASTALE:
 * a short blip filter), or the driver's log (a comm-lost warning written after its own retries, driverLog.ts:
 * acted on at once).
 */
export type StaleSource = 'upsd' | 'driver' | 'driver-log';
