import { describe, expect, it } from 'vitest';
import { EPISODE_WINDOW_MS, EpisodeCounter } from '../../src/hints/episodeCounter.js';

const HOUR = 60 * 60_000;

function counterAt(start: number, maxKept?: number) {
  const clock = { now: start };
  const counter = new EpisodeCounter({ now: () => clock.now, ...(maxKept ? { maxKept } : {}) });
  return { clock, counter };
}

describe('EpisodeCounter', () => {
  it('counts episodes per UPS and kind, zeros for a UPS never seen', () => {
    const { counter } = counterAt(1_000_000);
    expect(counter.record('ups1', 'hang')).toBe(1);
    expect(counter.record('ups1', 'hang')).toBe(2);
    expect(counter.record('ups1', 'stale')).toBe(1);
    expect(counter.record('ups2', 'spin')).toBe(1);
    expect(counter.counts('ups1')).toEqual({ stale: 1, hang: 2, spin: 0 });
    expect(counter.counts('ups2')).toEqual({ stale: 0, hang: 0, spin: 1 });
    expect(counter.counts('nobody')).toEqual({ stale: 0, hang: 0, spin: 0 });
  });

  it('keeps an episode for 24 h less a millisecond, and drops it at exactly 24 h', () => {
    const start = 5 * EPISODE_WINDOW_MS;
    const { clock, counter } = counterAt(start);
    counter.record('ups1', 'stale');
    clock.now = start + EPISODE_WINDOW_MS - 1;
    expect(counter.count('ups1', 'stale')).toBe(1);
    clock.now = start + EPISODE_WINDOW_MS;
    expect(counter.count('ups1', 'stale')).toBe(0);
  });

  it('slides: of episodes spread over 30 h, only those of the last 24 h count', () => {
    const start = 10 * EPISODE_WINDOW_MS;
    const { clock, counter } = counterAt(start);
    for (let hour = 0; hour < 30; hour++) {
      clock.now = start + hour * HOUR;
      counter.record('ups1', 'hang');
    }
    // At hour 29 the window (hour 5, hour 29] holds hours 6..29.
    expect(counter.count('ups1', 'hang')).toBe(24);
    clock.now = start + 40 * HOUR;
    expect(counter.count('ups1', 'hang')).toBe(13); // hours 17..29
  });

  it('prunes old timestamps as it goes, and keeps at most maxKept per kind', () => {
    const start = 3 * EPISODE_WINDOW_MS;
    const { clock, counter } = counterAt(start, 50);
    for (let i = 0; i < 200; i++) counter.record('ups1', 'stale');
    expect(counter.count('ups1', 'stale')).toBe(50);
    clock.now = start + EPISODE_WINDOW_MS;
    counter.record('ups1', 'stale');
    const internal = (counter as unknown as { episodes: Map<string, Record<string, number[]>> }).episodes;
    expect(internal.get('ups1')?.stale).toEqual([start + EPISODE_WINDOW_MS]);
  });

  it('puts an episode stamped earlier than the last one in its place', () => {
    const start = 2 * EPISODE_WINDOW_MS;
    const { clock, counter } = counterAt(start);
    counter.record('ups1', 'spin', start);
    counter.record('ups1', 'spin', start - EPISODE_WINDOW_MS + HOUR); // an hour before it leaves the window
    expect(counter.count('ups1', 'spin')).toBe(2);
    clock.now = start + 2 * HOUR;
    expect(counter.count('ups1', 'spin')).toBe(1);
  });
});
