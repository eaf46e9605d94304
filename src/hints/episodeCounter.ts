/**
 * Fault episodes per UPS over a sliding window (24 h by default): how often a driver went stale, hung or spun.
 * Pure: the clock is injected, nothing is scheduled; old timestamps are pruned whenever a UPS is read or written.
 */

/** What kind of fault an episode was: `stale` (upsd or the driver said DATA-STALE), `hang` (no PONG), `spin` (CPU). */
export const EPISODE_KINDS = ['stale', 'hang', 'spin'] as const;

export type EpisodeKind = (typeof EPISODE_KINDS)[number];

export type EpisodeCounts = Record<EpisodeKind, number>;

export const EPISODE_WINDOW_MS = 24 * 60 * 60_000;

/**
 * Timestamps kept per UPS and kind. A fault costs at least a driver restart (seconds), so a real UPS stays far below
 * this in 24 h; the cap only bounds memory if something emits faults in a loop. Past it the count saturates.
 */
export const MAX_EPISODES_KEPT = 10_000;

export interface EpisodeCounterOptions {
  now: () => number;
  windowMs?: number;
  maxKept?: number;
}

export class EpisodeCounter {
  private readonly now: () => number;
  private readonly windowMs: number;
  private readonly maxKept: number;
  /** ups → kind → episode times, oldest first. */
  private readonly episodes = new Map<string, Record<EpisodeKind, number[]>>();

  constructor(options: EpisodeCounterOptions) {
    this.now = options.now;
    this.windowMs = options.windowMs ?? EPISODE_WINDOW_MS;
    this.maxKept = options.maxKept ?? MAX_EPISODES_KEPT;
  }

  /** Counts one episode at `at` (default now); returns that kind's count within the window. */
  record(ups: string, kind: EpisodeKind, at: number = this.now()): number {
    const times = this.timesOf(ups)[kind];
    // Bus events arrive in order; a late timestamp still goes in its place so the pruning stays a prefix cut.
    let index = times.length;
    while (index > 0 && (times[index - 1] ?? 0) > at) index--;
    times.splice(index, 0, at);
    if (times.length > this.maxKept) times.splice(0, times.length - this.maxKept);
    return this.count(ups, kind);
  }

  /** Episodes of one kind within the window ending now. */
  count(ups: string, kind: EpisodeKind): number {
    const times = this.episodes.get(ups)?.[kind];
    if (!times) return 0;
    this.prune(times);
    return times.length;
  }

  /** Every kind's count within the window ending now (zeros for a UPS never seen). */
  counts(ups: string): EpisodeCounts {
    return { stale: this.count(ups, 'stale'), hang: this.count(ups, 'hang'), spin: this.count(ups, 'spin') };
  }

  /** The UPSes with any episode on record (possibly all outside the window until the next read). */
  upsNames(): string[] {
    return [...this.episodes.keys()];
  }

  private timesOf(ups: string): Record<EpisodeKind, number[]> {
    let entry = this.episodes.get(ups);
    if (!entry) {
      entry = { stale: [], hang: [], spin: [] };
      this.episodes.set(ups, entry);
    }
    return entry;
  }

  /** An episode exactly `windowMs` old has left the window: "the last 24 h" is a half-open interval. */
  private prune(times: number[]): void {
    const cutoff = this.now() - this.windowMs;
    let drop = 0;
    while (drop < times.length && (times[drop] ?? 0) <= cutoff) drop++;
    if (drop > 0) times.splice(0, drop);
  }
}
