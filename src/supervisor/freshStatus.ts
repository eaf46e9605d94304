import { setTimeout as sleep } from 'node:timers/promises';
import type { NutClient } from '../nut/client.js';
import { describeExit, type ManagedProcess } from './managedProcess.js';
import { STUCK_WORDS, type StuckReason, stuckInKernel } from './procStuck.js';

/** GET VAR is a 0.06 ms round trip: asking every 100 ms sees a driver's first data at once, at no cost. */
const VERIFY_POLL_MS = 100;
/**
 * A starting driver stuck in the kernel this long (procStuck.ts) is given up before VERIFY_TIMEOUT: its device does
 * not answer, and the next attempt (SIGKILL, USB reset, start) can. A healthy driver passes through such a state in
 * microseconds; 2 s of samples all stuck is no accident.
 */
export const STUCK_START_MS = 2000;

export interface FreshStatusWait {
  client: NutClient;
  ups: string;
  /** The driver just started: its exit ends the wait. */
  driver: ManagedProcess;
  deadline: number;
  /** VERIFY_TIMEOUT, for the message. */
  timeoutMs: number;
  now: () => number;
  /** The agent is stopping: the wait ends. */
  stopped: () => boolean;
  /** Whether the driver is stuck in the kernel now (default: read from /proc). */
  stuck?: (pid: number | undefined) => StuckReason | undefined;
}

export type FreshStatusResult =
  | { ok: true; status: string }
  | { ok: false; error: string; exited: boolean; stuck?: StuckReason };

/**
 * The last step of the recovery ladder: asks upsd for the UPS's ups.status until it serves a real one (not WAIT),
 * the driver exits, or the deadline passes. The error says which, with upsd's last answer.
 */
export async function waitForFreshStatus(wait: FreshStatusWait): Promise<FreshStatusResult> {
  const { client, driver } = wait;
  const stuckNow = wait.stuck ?? stuckInKernel;
  let last = 'no answer from upsd';
  let stuckSince: number | undefined;
  while (!wait.stopped()) {
    if (!driver.running)
      return {
        ok: false,
        exited: true,
        error: `driver exited during start (${describeExit(driver.exit)})`,
      };
    if (wait.now() >= wait.deadline)
      return { ok: false, exited: false, error: `no fresh data within ${wait.timeoutMs} ms (${last})` };
    const stuck = stuckNow(driver.pid);
    stuckSince = stuck ? (stuckSince ?? wait.now()) : undefined;
    if (stuck && stuckSince !== undefined && wait.now() - stuckSince >= STUCK_START_MS)
      return {
        ok: false,
        exited: false,
        stuck,
        error: `driver stuck during start: it ${STUCK_WORDS[stuck]} (${last})`,
      };
    try {
      const status = await client.getVar(wait.ups, 'ups.status');
      if (status !== 'WAIT') return { ok: true, status };
      last = 'upsd says WAIT';
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(VERIFY_POLL_MS);
  }
  return { ok: false, exited: false, error: 'agent stopping' };
}
