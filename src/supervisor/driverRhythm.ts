/**
 * A driver's update rhythm, learned from its PONGs, so that a PING sent while the driver must be listening can be
 * called unanswered sooner than its learned PONG latency (pongLatency.ts) allows. Pure: the rhythm is a value.
 *
 * Why: every NUT driver runs the same main loop (drivers/main.c): `upsdrv_updateinfo()`, then serve its socket until
 * `pollinterval` after that update began, and again. It answers PING only while it serves. dummy-ups sleeps 1 s in
 * every update, so a PONG can take 1 s and its learned timeout is ~1.3 s: a hang that begins while it serves waits
 * all of that. But an update begins only once per pollinterval; between the end of one and the start of the next
 * the driver answers within a millisecond. Where the updates come at a steady rhythm, a PING sent inside that
 * listening window gets the short `quickTimeoutMs`.
 *
 * Learned, and checked all the time: a PONG later than `deafMs` marks the end of an update (which began after the
 * PONG before it). The rhythm is trusted only once the last `trustUpdates` update ends are evenly spaced (within
 * `toleranceMs`). A PING sent inside a predicted window that still came back late (an update the rhythm did not
 * predict: usbhid-ups woken early by its interrupt pipe, a stalled machine) throws the rhythm away. Drivers whose
 * updates are too short to delay a PONG (blazer_ser) or that keep no steady rhythm keep the learned timeout alone.
 */
export interface RhythmConfig {
  /** A PONG later than this was held up by an update. */
  deafMs: number;
  /** The PING timeout inside a trusted listening window. */
  quickTimeoutMs: number;
  /** The window closes this long before the earliest time the next update can begin. */
  marginMs: number;
  /** How far apart the spacings of update ends may be and still be a rhythm. */
  toleranceMs: number;
  /** Update ends seen, evenly spaced, before the rhythm is trusted. */
  trustUpdates: number;
}

/**
 * 500 ms: far above a listening driver's sub-millisecond PONG, and a stall of the machine that long is rare; a
 * stall of the agent itself cannot call a hang (the socket is read before a PING times out, driverSocket.ts).
 * Margin 200 ms: twice the spacing tolerance.
 */
export const RHYTHM_CONFIG: RhythmConfig = {
  deafMs: 100,
  quickTimeoutMs: 500,
  marginMs: 200,
  toleranceMs: 100,
  trustUpdates: 4,
};

interface Update {
  /** The prompt PONG before it: the update began after this. */
  beganAfter: number;
  /** When the delayed PONG came: the update had ended. */
  endedAt: number;
}

export interface DriverRhythm {
  /** The last PONG: the driver was listening then. */
  readonly lastPongAt: number | undefined;
  /** The most recent updates seen (at most `trustUpdates`). */
  readonly updates: readonly Update[];
}

export const NO_RHYTHM: DriverRhythm = { lastPongAt: undefined, updates: [] };

/** When the driver is surely listening, if its rhythm is trusted: from the end of its last update until shortly before the next can begin. */
export function listeningWindow(
  rhythm: DriverRhythm,
  config: RhythmConfig,
): { from: number; until: number } | undefined {
  const { updates } = rhythm;
  if (updates.length < config.trustUpdates) return undefined;
  const spacings = updates.slice(1).map((u, i) => u.endedAt - (updates[i] as Update).endedAt);
  const period = Math.min(...spacings);
  if (Math.max(...spacings) - period > config.toleranceMs) return undefined;
  const last = updates[updates.length - 1] as Update;
  // The last update began after `beganAfter`; the next begins a period after it did, so not before this.
  const until = last.beganAfter + period - config.marginMs;
  return until > last.endedAt ? { from: last.endedAt, until } : undefined;
}

/** The rhythm after a PING sent at `sentAt` was answered at `answeredAt`. */
export function recordPong(
  rhythm: DriverRhythm,
  sentAt: number,
  answeredAt: number,
  config: RhythmConfig,
): DriverRhythm {
  if (answeredAt - sentAt <= config.deafMs) return { ...rhythm, lastPongAt: answeredAt };
  const window = listeningWindow(rhythm, config);
  // Late although the rhythm said it would listen: the rhythm is wrong; learn it anew.
  if (window && sentAt >= window.from && sentAt < window.until)
    return { lastPongAt: answeredAt, updates: [] };
  // Without a PONG before it, when this update began is unknown: it bounds nothing.
  if (rhythm.lastPongAt === undefined) return { ...rhythm, lastPongAt: answeredAt };
  const updates = [...rhythm.updates, { beganAfter: rhythm.lastPongAt, endedAt: answeredAt }];
  return { lastPongAt: answeredAt, updates: updates.slice(-config.trustUpdates) };
}

/** The timeout for a PING sent at `sentAt`: the short one inside a trusted listening window, else `learnedMs`. */
export function rhythmTimeout(
  rhythm: DriverRhythm,
  sentAt: number,
  learnedMs: number,
  config: RhythmConfig,
): number {
  const window = listeningWindow(rhythm, config);
  const listening = window !== undefined && sentAt >= window.from && sentAt < window.until;
  return listening ? Math.min(learnedMs, config.quickTimeoutMs) : learnedMs;
}
