import { describe, expect, it } from 'vitest';
import {
  type DriverRhythm,
  listeningWindow,
  NO_RHYTHM,
  RHYTHM_CONFIG,
  recordPong,
  rhythmTimeout,
} from '../../src/supervisor/driverRhythm.js';

const config = RHYTHM_CONFIG;
const LEARNED = 1300;

/**
 * A dummy-ups-like driver: every `period` ms an update begins that keeps it deaf for `deaf` ms; PINGs go out every
 * `interval` ms after the previous PONG. Returns the rhythm after `ms` of it.
 */
function simulate(
  ms: number,
  opts: { period?: number; deaf?: number; interval?: number; phase?: number } = {},
) {
  const { period = 2000, deaf = 1000, interval = 250, phase = 0 } = opts;
  let rhythm: DriverRhythm = NO_RHYTHM;
  let t = 0;
  while (t < ms) {
    const inCycle = (((t - phase) % period) + period) % period;
    const answeredAt = inCycle < deaf ? t + (deaf - inCycle) : t + 1;
    rhythm = recordPong(rhythm, t, answeredAt, config);
    t = answeredAt + interval;
  }
  return { rhythm, t };
}

describe('driver rhythm', () => {
  it('knows nothing before it has seen four evenly spaced updates', () => {
    expect(listeningWindow(NO_RHYTHM, config)).toBeUndefined();
    const { rhythm } = simulate(5000);
    expect(rhythm.updates.length).toBeLessThan(config.trustUpdates);
    expect(listeningWindow(rhythm, config)).toBeUndefined();
    expect(rhythmTimeout(rhythm, 5000, LEARNED, config)).toBe(LEARNED);
  });

  it('learns a dummy-ups rhythm (1 s deaf every 2 s): the short timeout only while it surely listens', () => {
    const { rhythm } = simulate(12_000);
    const window = listeningWindow(rhythm, config);
    expect(window).toBeDefined();
    const { from, until } = window as { from: number; until: number };
    // From the end of the last update (a cycle starts at a multiple of 2000, deaf until +1000) …
    expect(from % 2000).toBe(1000);
    // … until before the next update can begin (at most 250 ms uncertainty about the start, 200 ms margin).
    const nextStart = from - 1000 + 2000;
    expect(until).toBeLessThanOrEqual(nextStart - config.marginMs);
    expect(until).toBeGreaterThanOrEqual(nextStart - config.marginMs - 250 - 1);
    expect(rhythmTimeout(rhythm, from + 10, LEARNED, config)).toBe(config.quickTimeoutMs);
    expect(rhythmTimeout(rhythm, until, LEARNED, config)).toBe(LEARNED);
    expect(rhythmTimeout(rhythm, nextStart + 100, LEARNED, config)).toBe(LEARNED);
    // Never longer than the learned timeout.
    expect(rhythmTimeout(rhythm, from + 10, 400, config)).toBe(400);
  });

  it('predicts no window for a driver whose updates are too short to delay a PONG', () => {
    const { rhythm } = simulate(30_000, { deaf: 30 });
    expect(rhythm.updates).toEqual([]);
    expect(listeningWindow(rhythm, config)).toBeUndefined();
  });

  it('trusts no rhythm whose update ends are unevenly spaced', () => {
    let rhythm: DriverRhythm = { lastPongAt: 0, updates: [] };
    for (const [sent, end] of [
      [100, 1000],
      [2100, 3000],
      [3200, 4400],
      [6100, 7000],
    ] as const) {
      rhythm = recordPong(rhythm, sent - 50, sent - 49, config);
      rhythm = recordPong(rhythm, sent, end, config);
    }
    expect(rhythm.updates).toHaveLength(4);
    expect(listeningWindow(rhythm, config)).toBeUndefined();
  });

  it('forgets the rhythm when a PING sent in a predicted window comes back late (an unpredicted update)', () => {
    const { rhythm } = simulate(12_000);
    const { from } = listeningWindow(rhythm, config) as { from: number; until: number };
    const after = recordPong(rhythm, from + 50, from + 350, config);
    expect(after.updates).toEqual([]);
    expect(listeningWindow(after, config)).toBeUndefined();
    expect(rhythmTimeout(after, from + 400, LEARNED, config)).toBe(LEARNED);
  });

  it('records no update whose start it cannot bound (no PONG before it)', () => {
    const rhythm = recordPong(NO_RHYTHM, 0, 900, config);
    expect(rhythm).toEqual({ lastPongAt: 900, updates: [] });
  });

  it('keeps only the most recent updates', () => {
    const { rhythm } = simulate(60_000);
    expect(rhythm.updates).toHaveLength(config.trustUpdates);
  });
});
