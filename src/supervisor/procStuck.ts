import { readFileSync } from 'node:fs';

/**
 * Whether a process cannot act on SIGTERM right now, from /proc: it sleeps uninterruptibly inside a system call
 * (state `D`: a USB transfer the kernel will not give up, NUT #2017 and #3576), or it holds SIGTERM blocked (a
 * process inside such a call, as the USB simulator of the tests plays it). NUT's drivers never block SIGTERM
 * themselves. Such a driver only goes with SIGKILL, and its device needs a USB reset before the next driver can
 * talk to it, so the supervisor skips the SIGTERM wait and resets the device before the restart.
 */
export type StuckReason = 'uninterruptible' | 'sigterm-blocked';

const SIGTERM_BIT = 1n << 14n; // signal 15

/** Pure: the verdict from the texts of /proc/<pid>/stat and /proc/<pid>/status. */
export function stuckFromProc(statText: string, statusText: string): StuckReason | undefined {
  const state = statText
    .slice(statText.lastIndexOf(')') + 1)
    .trim()
    .split(/\s+/)[0];
  if (state === 'D') return 'uninterruptible';
  const blocked = /^SigBlk:\s*([0-9a-f]+)$/im.exec(statusText)?.[1];
  if (blocked !== undefined && (BigInt(`0x${blocked}`) & SIGTERM_BIT) !== 0n) return 'sigterm-blocked';
  return undefined;
}

/** The verdict for a live process; undefined when it is not stuck, gone, or /proc cannot be read. */
export function stuckInKernel(pid: number | undefined, procRoot = '/proc'): StuckReason | undefined {
  if (pid === undefined) return undefined;
  try {
    return stuckFromProc(
      readFileSync(`${procRoot}/${pid}/stat`, 'utf8'),
      readFileSync(`${procRoot}/${pid}/status`, 'utf8'),
    );
  } catch {
    return undefined;
  }
}

export const STUCK_WORDS: Record<StuckReason, string> = {
  uninterruptible: 'sleeps uninterruptibly in a system call (state D)',
  'sigterm-blocked': 'holds SIGTERM blocked inside a system call',
};
