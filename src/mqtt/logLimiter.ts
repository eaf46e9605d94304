/**
 * Bounds how often one kind of message reaches the log, so a flood of junk on a command topic cannot flood the
 * log too. Per key: the first `maxPerWindow` occurrences of a window are logged; the rest are counted, and the
 * count is handed to the next occurrence that is logged (`suppressed`), so nothing vanishes without a trace.
 */
export class LogLimiter {
  private readonly windowMs: number;
  private readonly maxPerWindow: number;
  private readonly now: () => number;
  private readonly keys = new Map<string, { windowStart: number; logged: number; suppressed: number }>();

  constructor(opts: { windowMs: number; maxPerWindow: number; now?: () => number }) {
    this.windowMs = opts.windowMs;
    this.maxPerWindow = opts.maxPerWindow;
    this.now = opts.now ?? Date.now;
  }

  /** Whether this occurrence of `key` may be logged, and how many were swallowed since the last one that was. */
  take(key: string): { log: boolean; suppressed: number } {
    const now = this.now();
    let entry = this.keys.get(key);
    if (!entry || now - entry.windowStart >= this.windowMs) {
      entry = { windowStart: now, logged: 0, suppressed: entry?.suppressed ?? 0 };
      this.keys.set(key, entry);
      // Keys are a small closed set (error codes); this only guards against a caller that builds them from input.
      if (this.keys.size > 1000) this.keys.clear();
    }
    if (entry.logged >= this.maxPerWindow) {
      entry.suppressed += 1;
      return { log: false, suppressed: 0 };
    }
    entry.logged += 1;
    const suppressed = entry.suppressed;
    entry.suppressed = 0;
    return { log: true, suppressed };
  }
}
