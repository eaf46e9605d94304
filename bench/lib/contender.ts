// What the recovery bench needs from each way of running NUT.
import type { ProcInfo } from '../../test/fixtures/labProcs.js';
import type { UpsdObserver } from '../../test/fixtures/upsdObserver.js';
import type { RecoveryLab } from './recoveryLab.js';

export interface Contender {
  /** Short name for tables. */
  readonly name: string;
  readonly rlab: RecoveryLab;
  readonly observer: UpsdObserver;
  /** Nothing in progress for this UPS (no recovery running, not just restarted): ready for the next fault. */
  idle(ups: string): boolean;
  /** Among the lab's driver processes for `ups`, the one this contender means to be running. */
  expected(ups: string, candidates: readonly ProcInfo[]): ProcInfo | undefined;
  /** What the contender did about `ups` from 1 s before `from` to `to` (log lines or actions), times relative to `from`. */
  evidence(ups: string, from: number, to: number): string[];
  /** Stops the contender (not the lab); says how that went. */
  stop(): Promise<string>;
}

/** "+1.23s" relative to t0. */
export const rel = (t: number, t0: number): string => `${t >= t0 ? '+' : ''}${((t - t0) / 1000).toFixed(2)}s`;
