import type { Schema } from 'convict';
import { absolutePath, count, pathOrEmpty, positiveMs } from './formats.js';

/** `AgentConfigShape['supervisor']`: here, beside its schema, so this file needs nothing of schema.ts. */
export interface SupervisorSettings {
  pollInterval: number;
  probeInterval: number;
  probeTimeout: number;
  staleGrace: number;
  startTimeout: number;
  verifyTimeout: number;
  stopTimeout: number;
  backoffInitial: number;
  backoffMax: number;
  breakerRestarts: number;
  breakerWindow: number;
  breakerStormRestarts: number;
  failedRetry: number;
  requestTimeout: number;
  upsdFailureThreshold: number;
  dataPath: string;
  spinCpuShare: number;
  spinDuration: number;
  usbReset: boolean;
  usbResetAfter: number;
  usbWaitRetry: number;
  usbResetOnStuck: boolean;
  sysfsRoot: string;
  healthFile: string;
  healthFileInterval: number;
  hintEpisodesPerDay: number;
}

/** The supervisor's settings: detection, the recovery ladder, the breaker, the watchdogs (no env prefix). */
export const supervisorSchema: Schema<SupervisorSettings> = {
  pollInterval: {
    doc: 'Milliseconds between health polls of upsd for every UPS.',
    ...positiveMs(100, 600_000),
    default: 2000,
  },
  probeInterval: {
    doc: "Milliseconds between PINGs on each driver's socket (hang detection).",
    ...positiveMs(50, 600_000),
    default: 250,
  },
  probeTimeout: {
    doc: 'Milliseconds without PONG before a driver counts as hung (dummy-ups can take ~1 s to answer).',
    ...positiveMs(500, 600_000),
    default: 2000,
  },
  staleGrace: {
    doc: 'Milliseconds a driver may report stale data before it is restarted. NUT has already waited (MAXAGE, or the driver its failed polls) before saying stale, so a short grace only rides out a flag that clears at once.',
    ...positiveMs(0, 3_600_000),
    default: 1000,
  },
  startTimeout: {
    doc: 'Milliseconds a started driver has to produce its first fresh data before it is restarted.',
    ...positiveMs(1000, 3_600_000),
    default: 45_000,
  },
  verifyTimeout: {
    doc: 'Milliseconds a restarted driver has to produce fresh data before the recovery counts as failed.',
    ...positiveMs(1000, 3_600_000),
    default: 20_000,
  },
  stopTimeout: {
    doc: 'Milliseconds between SIGTERM and SIGKILL when stopping a NUT process.',
    ...positiveMs(50, 120_000),
    default: 2000,
  },
  backoffInitial: {
    doc: 'Milliseconds to wait after the first failed recovery; doubles after each further failure.',
    ...positiveMs(10, 3_600_000),
    default: 2000,
  },
  backoffMax: {
    doc: 'Cap in milliseconds of the wait between failed recoveries.',
    ...positiveMs(10, 86_400_000),
    default: 60_000,
  },
  breakerRestarts: {
    doc: 'Circuit breaker: this many failed recoveries (no fresh data within VERIFY_TIMEOUT) within the window put the UPS in state failed. Restarts that bring fresh data back do not count.',
    ...count(1, 1000),
    default: 5,
  },
  breakerWindow: {
    doc: 'Circuit breaker window in milliseconds.',
    ...positiveMs(1000, 86_400_000),
    default: 300_000,
  },
  breakerStormRestarts: {
    doc: 'Storm guard: this many driver restarts within the breaker window put the UPS in state failed even when each one brought fresh data back.',
    ...count(1, 10_000),
    default: 30,
  },
  failedRetry: {
    doc: 'Milliseconds between the slow retries of a UPS in state failed.',
    ...positiveMs(1000, 86_400_000),
    default: 300_000,
  },
  requestTimeout: {
    doc: 'Milliseconds before a request to upsd times out.',
    ...positiveMs(100, 120_000),
    default: 5000,
  },
  upsdFailureThreshold: {
    doc: 'Consecutive failed polls (refused, timed out) while upsd runs before upsd is restarted.',
    ...count(1, 100),
    default: 3,
  },
  dataPath: {
    doc: "Folder for the agent's own state, so a restart continues it: energy.json (every UPS's energy total) and history.json (outages, self-test results). /data in the image (a volume).",
    format: absolutePath,
    default: '/var/lib/nut-mqtt',
  },
  spinCpuShare: {
    doc: 'Spinning-driver watchdog: a driver that uses more than this share of one CPU core (0 to 1) on average over SPIN_DURATION, and over each half of it, is restarted (reason `spinning`). 0: off. NUT 2.8.0–2.8.2 drivers spin at 50–88 % after a socket client disconnects while their data stays fresh.',
    format: 'cpu-share',
    default: 0.4,
  },
  spinDuration: {
    doc: "Milliseconds over which a driver's CPU use is averaged for SPIN_CPU_SHARE (sampled from /proc every sixth of it, 0.25–5 s apart). A busy but healthy driver works in short bursts and stays below the share on average.",
    ...positiveMs(1000, 3_600_000),
    default: 60_000,
  },
  usbReset: {
    doc: "USB reset rung, for USB drivers (usbhid-ups, nutdrv_qx, blazer_usb, …): after USB_RESET_AFTER failed restarts, reset the UPS's USB device (its sysfs `authorized` set to 0, then 1) before the next restart. Only a device that matches ups.conf's vendorid/productid/serial/bus/device/busport, and exactly one. Has no effect where SYSFS_ROOT has no bus/usb (a container without the USB bus).",
    format: 'switch',
    default: true,
  },
  usbResetAfter: {
    doc: 'Failed restarts of a USB driver (no fresh data within VERIFY_TIMEOUT) before the USB device is reset, then on every further attempt.',
    ...count(1, 100),
    default: 2,
  },
  usbWaitRetry: {
    doc: "Milliseconds between quiet starts of a USB driver whose device another program holds (`Can't claim USB device`); a device missing from the bus is watched for in sysfs instead, where there is one. No USB reset and no circuit breaker while waiting: a restart cannot mend either. A `usb-problem` event says what to check.",
    ...positiveMs(500, 600_000),
    default: 3000,
  },
  usbResetOnStuck: {
    doc: 'USB reset before the restart, at once, when the old driver is stuck in the kernel (uninterruptible sleep, or SIGTERM blocked inside a USB call): its device will not answer the next driver either. Needs USB_RESET.',
    format: 'switch',
    default: true,
  },
  sysfsRoot: {
    doc: 'Where sysfs is mounted (the USB devices are under <this>/bus/usb/devices).',
    format: absolutePath,
    default: '/sys',
  },
  healthFile: {
    doc: "File the agent rewrites every HEALTH_FILE_INTERVAL with its health: `healthy`, or `unhealthy` and why (the same verdict as /healthz). Removed on a clean stop. The image's HEALTHCHECK reads it with a shell script (no Node process) and also fails when it is older than HEALTH_MAX_AGE seconds (30): a stuck agent is unhealthy too. Empty: off. /run/nut-mqtt/health in the image.",
    format: pathOrEmpty,
    default: '',
  },
  healthFileInterval: {
    doc: 'Milliseconds between rewrites of HEALTH_FILE.',
    ...positiveMs(500, 60_000),
    default: 5000,
  },
  hintEpisodesPerDay: {
    doc: "Tuning hints: when a UPS's stale, hang or spin episodes in the last 24 h reach this many (each kind on its own), a `tuning-hint` event and a warning say which ups.conf options could cut them for its driver and NUT version; once, then at most daily per hint. 0: no hints (the counts are still published). ups.conf is never edited.",
    ...count(0, 100_000),
    default: 12,
  },
};
