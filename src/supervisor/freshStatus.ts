import { setTimeout as sleep } from 'node:timers/promises';
import type { NutClient } from '../nut/client.js';
import { describeExit, type ManagedProcess } from './managedProcess.js';

/** GET VAR is a 0.06 ms round trip: asking every 100 ms sees a driver's first data at once, at no cost. */
const VERIFY_POLL_MS = 100;

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
}

/**
 * The last step of the recovery ladder: asks upsd for the UPS's ups.status until it serves a real one (not WAIT),
 * the driver exits, or the deadline passes. The error says which, with upsd's last answer.
 */
export async function waitForFreshStatus(
  wait: FreshStatusWait,
): Promise<{ ok: true; status: string } | { ok: false; error: string }> {
  const { client, driver } = wait;
  let last = 'no answer from upsd';
  while (!wait.stopped()) {
    if (!driver.running)
      return { ok: false, error: `driver exited during start (${describeExit(driver.exit)})` };
    if (wait.now() >= wait.deadline)
      return { ok: false, error: `no fresh data within ${wait.timeoutMs} ms (${last})` };
    try {
      const status = await client.getVar(wait.ups, 'ups.status');
      if (status !== 'WAIT') return { ok: true, status };
      last = 'upsd says WAIT';
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(VERIFY_POLL_MS);
  }
  return { ok: false, error: 'agent stopping' };
}
