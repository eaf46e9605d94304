import { setTimeout as sleep } from 'node:timers/promises';

/** Sleeps `ms`; resolves false at once when `signal` aborts (the owner is stopping), true otherwise. */
export async function abortableSleep(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
