import { RETRY_BACKOFF } from '../backoff.js';
import type { AgentConfigShape } from '../config/schema.js';
import { instcmdResultTimeoutMs } from '../supervisor/supervisor.js';

/** The MQTT side's own delays. Not settings: tests shorten some of them (ControllerDeps.mqttTimings). */
export interface MqttTimings {
  /** Bursts of `ups-updated` (a driver sends its variables one by one) are published as one state message. */
  coalesceMs: number;
  /** Discovery is rebuilt at most this often when a UPS's variables or commands change. */
  discoveryDebounceMs: number;
  /** After `online` on Home Assistant's status topic: republish after a random delay in this range. */
  haOnlineDelayMinMs: number;
  haOnlineDelayMaxMs: number;
  /** How long the start-up scan for leftover discovery configs may take. */
  scanTimeoutMs: number;
  /** MQTT reconnect backoff. */
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** A UPS's history state is published at most this often (a flapping input does not flood it). */
  historyMinIntervalMs: number;
  /** While a UPS is on battery, its live time on battery is republished this often. */
  historyLiveIntervalMs: number;
  /** At most one `outage` event per UPS this often; outages that end in between are told together. */
  outageEventWindowMs: number;
  /** How often the self-test schedule and running tests' time limits are looked at. */
  selfTestCheckIntervalMs: number;
}

export const MQTT_TIMINGS: Readonly<MqttTimings> = {
  // A driver's dump or a poll lands within a few ms; 50 ms bundles it and is still "at once" for a person.
  coalesceMs: 50,
  // New variables and commands come in bursts while a driver starts: one rebuild after the burst, not one per item.
  discoveryDebounceMs: 1000,
  // Home Assistant's own advice: wait a moment after its birth message, spread so that many agents do not publish
  // at the same instant.
  haOnlineDelayMinMs: 500,
  haOnlineDelayMaxMs: 3000,
  // A broker sends its retained messages right after SUBSCRIBE; 5 s is ample even for thousands of configs.
  scanTimeoutMs: 5000,
  backoffInitialMs: RETRY_BACKOFF.initialMs,
  backoffMaxMs: RETRY_BACKOFF.maxMs,
  historyMinIntervalMs: 2000,
  historyLiveIntervalMs: 5000,
  // A flapping input (a bad transfer switch, brown-outs) can switch every few seconds for hours: one message a minute
  // tells it, every outage still counted.
  outageEventWindowMs: 60_000,
  selfTestCheckIntervalMs: 15_000,
};

/** Margin for the agent's own work around a restart (spawn, first poll), beyond the configured timeouts. */
const RESTART_MARGIN_MS = 10_000;
/** upsd has no verify timeout of its own: it gets this long to answer after it was started again. */
const UPSD_START_ALLOWANCE_MS = 30_000;
/** Margin for the replies around an instant command (LOGOUT, socket close) beyond its request timeouts. */
const INSTCMD_MARGIN_MS = 2000;
/**
 * An instant command's session may spend a request timeout on each of connect, USERNAME, PASSWORD, SET TRACKING,
 * INSTCMD and the last GET TRACKING.
 */
const INSTCMD_REQUESTS = 6;

/** How long a command's caller waits before the answer is `timeout` (the command itself goes on). */
export interface CommandTimeouts {
  restartTimeoutMs: number;
  instcmdTimeoutMs: number;
  upsdRestartTimeoutMs: number;
}

/** Derived from the supervisor's settings: a command is answered `timeout` only once the supervisor gave up too. */
export function commandTimeouts(t: AgentConfigShape['supervisor']): CommandTimeouts {
  return {
    // SIGTERM + SIGKILL waits, then the verify window.
    restartTimeoutMs: t.stopTimeout * 2 + t.verifyTimeout + RESTART_MARGIN_MS,
    instcmdTimeoutMs: t.requestTimeout * INSTCMD_REQUESTS + instcmdResultTimeoutMs(t) + INSTCMD_MARGIN_MS,
    upsdRestartTimeoutMs: t.stopTimeout * 2 + UPSD_START_ALLOWANCE_MS,
  };
}
