import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import type { NutClient } from '../nut/client.js';
import type { UsbProblem } from '../usb/usbProblem.js';
import { abortableSleep } from './abortableSleep.js';
import { type FreshStatusResult, waitForFreshStatus } from './freshStatus.js';
import type { ManagedProcess } from './managedProcess.js';
import { STUCK_WORDS, stuckInKernel } from './procStuck.js';
import type { UsbResetRung } from './usbResetRung.js';

/** What one climb of the ladder needs from the UPS's supervisor. */
export interface LadderContext {
  ups: string;
  timings: { stopTimeout: number; verifyTimeout: number; usbWaitRetry: number };
  bus: EventBus;
  log: Logger;
  now: () => number;
  client: NutClient;
  rung: UsbResetRung | undefined;
  stopped: () => boolean;
  /** Aborted when the supervisor stops (ends a wait for a USB device). */
  stopping: AbortSignal;
  /** The UPS's driver process now (the old one, before the restart). */
  current: () => ManagedProcess | undefined;
  /** Closes the old driver's probe and watchdog. */
  closeWatch: () => Promise<void>;
  /** `quiet`: a start while waiting for the USB device, logged at debug level and not on the bus. */
  startDriver: (quiet?: boolean) => ManagedProcess;
  /** Wakes a driver's main loop after SIGTERM (knock.ts). */
  knock: () => Promise<void>;
  /** What the current driver process said about its USB device, if it could not get at it. */
  usbProblem: () => { problem: UsbProblem; line: string } | undefined;
  /** Says a USB problem to the world (once per change: usbProblemReport.ts). */
  reportUsbProblem: (problem: UsbProblem, line: string) => void;
  /** Whether sysfs shows a USB device that matches ups.conf (undefined: no bus in sysfs, or nothing to match by). */
  deviceVisible: () => Promise<boolean | undefined>;
}

/** How often sysfs is read while no matching device is on the bus. */
const VISIBLE_POLL_MS = 1000;

export type LadderResult = { ok: true; status: string } | { ok: false; error: string };

/**
 * Stops the old driver for a restart: SIGTERM (+SIGCONT, a knock), `STOP_TIMEOUT`, SIGKILL. A driver stuck in the
 * kernel (procStuck.ts) cannot act on SIGTERM: it gets SIGKILL at once, and its words come back so that the USB
 * reset rung resets the device before the next driver meets it.
 */
async function stopOld(ctx: LadderContext): Promise<string | undefined> {
  const old = ctx.current();
  if (!old?.running) return undefined;
  const stuck = stuckInKernel(old.pid);
  const words = stuck ? STUCK_WORDS[stuck] : undefined;
  if (words)
    ctx.log.warn({ childPid: old.pid, stuck }, `driver ${words}: SIGKILL without waiting for SIGTERM`);
  const { forced } = await old.stop(stuck ? 0 : ctx.timings.stopTimeout, stuck ? undefined : ctx.knock);
  if (forced) {
    if (!stuck)
      ctx.log.warn(
        { childPid: old.pid },
        `driver ignored SIGTERM for ${ctx.timings.stopTimeout} ms: SIGKILLed`,
      );
    ctx.bus.emit('force-killed', { ups: ctx.ups, childPid: old.pid ?? 0, at: ctx.now() });
  }
  return words;
}

/** Starts a driver and waits for fresh data through upsd; on an exit at start, what it said about its device. */
async function startAndVerify(ctx: LadderContext, quiet: boolean, deadline: number) {
  const driver = ctx.startDriver(quiet);
  const result: FreshStatusResult = await waitForFreshStatus({
    client: ctx.client,
    ups: ctx.ups,
    driver,
    deadline,
    timeoutMs: ctx.timings.verifyTimeout,
    now: ctx.now,
    stopped: ctx.stopped,
  });
  return { result, usbProblem: !result.ok && result.exited ? ctx.usbProblem() : undefined };
}

/**
 * Waits until a driver start could find its device; false when there is nothing to wait for (a failure the ladder
 * counts) or the agent stops. A held interface (`claimed`) is only seen by trying: a quiet start every
 * USB_WAIT_RETRY. A missing device is watched for in sysfs where it can be, and a start follows the moment it
 * appears. `access` is no wait: NUT 2.8.0–2.8.1 say "insufficient permissions" for any device that fails to open
 * (an I/O error too), which a restart or a USB reset may mend; so is "not found" while sysfs shows the device.
 */
async function waitForDevice(ctx: LadderContext, problem: UsbProblem): Promise<boolean> {
  if (problem === 'access') return false;
  const visible = problem === 'not-found' ? await ctx.deviceVisible() : undefined;
  if (visible === true) return false;
  if (visible === undefined) {
    ctx.log.debug({ problem }, `waiting ${ctx.timings.usbWaitRetry} ms for the USB device`);
    return abortableSleep(ctx.timings.usbWaitRetry, ctx.stopping);
  }
  ctx.log.debug({ problem }, 'waiting for a matching USB device in sysfs');
  do {
    if (!(await abortableSleep(VISIBLE_POLL_MS, ctx.stopping))) return false;
  } while ((await ctx.deviceVisible()) === false);
  return true;
}

/**
 * One attempt of the recovery ladder: stop the old driver (stuck-aware), reset its USB device where the rung says
 * so, start a new one, and confirm that upsd serves fresh data within VERIFY_TIMEOUT. A new driver that exits
 * because it cannot get at its USB device (held, denied, absent: usbProblem.ts) is no failure a restart or a reset
 * mends: the problem is said once, and a driver is started quietly every USB_WAIT_RETRY until it has its device, a
 * different failure ends the wait, or the agent stops. `attempt` is 1-based; `startedAt` is when it began.
 */
export async function climbLadder(
  ctx: LadderContext,
  attempt: number,
  startedAt: number,
): Promise<LadderResult> {
  await ctx.closeWatch();
  const stuck = await stopOld(ctx);
  if (ctx.stopped()) return { ok: false, error: 'agent stopping' };
  // Between the old driver's exit and the new one's start: nothing holds the device while it re-enumerates.
  await ctx.rung?.beforeAttempt(attempt, stuck);
  if (ctx.stopped()) return { ok: false, error: 'agent stopping' };
  let { result, usbProblem } = await startAndVerify(ctx, false, startedAt + ctx.timings.verifyTimeout);
  while (usbProblem && !ctx.stopped()) {
    ctx.reportUsbProblem(usbProblem.problem, usbProblem.line);
    if (!(await waitForDevice(ctx, usbProblem.problem))) break;
    ({ result, usbProblem } = await startAndVerify(ctx, true, ctx.now() + ctx.timings.verifyTimeout));
  }
  if (ctx.stopped()) return { ok: false, error: 'agent stopping' };
  return result.ok ? result : { ok: false, error: result.error };
}
