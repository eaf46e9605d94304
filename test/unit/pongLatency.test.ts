import { describe, expect, it } from 'vitest';
import { learnedTimeout, p99, pongLatencyConfig, recordLatency } from '../../src/supervisor/pongLatency.js';

const config = pongLatencyConfig(2000);

function feed(latencies: number[]): number[] {
  let samples: number[] = [];
  for (const ms of latencies) samples = recordLatency(samples, ms, config);
  return samples;
}

/** A dummy-ups-like driver: half the PINGs arrive while it sleeps 1 s in its update and wait out the rest of it. */
function dummyUpsLatencies(n: number): number[] {
  return Array.from({ length: n }, (_, i) => (i % 2 ? 1 + (i % 7) : Math.round(((i * 37) % 100) * 9.74)));
}

describe('PONG latency learner', () => {
  it('uses PROBE_TIMEOUT until enough PONGs are seen', () => {
    expect(learnedTimeout([], config)).toBe(2000);
    expect(learnedTimeout(feed(Array(59).fill(1)), config)).toBe(2000);
    expect(learnedTimeout(feed(Array(60).fill(1)), config)).toBe(1000);
  });
  it('gives a fast driver the floor, never less', () => {
    expect(learnedTimeout(feed(Array(200).fill(0)), config)).toBe(1000);
  });
  it('gives a dummy-ups-like driver headroom over its slowest normal PONG, and less than PROBE_TIMEOUT', () => {
    const latencies = dummyUpsLatencies(200);
    const timeout = learnedTimeout(feed(latencies), config);
    expect(timeout).toBeGreaterThanOrEqual(Math.max(...latencies) * 1.25);
    expect(timeout).toBe(Math.ceil(1.3 * p99(latencies)));
    expect(timeout).toBeLessThan(2000);
  });
  it('never exceeds PROBE_TIMEOUT, however slow the driver', () => {
    expect(learnedTimeout(feed(Array(100).fill(1900)), config)).toBe(2000);
  });
  it('keeps only the recent window, so it follows a driver that became slower or faster', () => {
    const samples = feed([...Array(200).fill(900), ...Array(200).fill(5)]);
    expect(samples).toHaveLength(200);
    expect(learnedTimeout(samples, config)).toBe(1000);
    expect(learnedTimeout(feed([...Array(200).fill(5), ...Array(200).fill(900)]), config)).toBe(1170);
  });
  it('takes the 99th percentile by nearest rank', () => {
    expect(p99([])).toBe(0);
    expect(p99([...Array(199).fill(10), 1500])).toBe(10);
    expect(p99([...Array(197).fill(10), 1500, 1500, 1500])).toBe(1500);
    expect(learnedTimeout(feed([...Array(197).fill(10), 1500, 1500, 1500]), config)).toBe(1950);
  });
  it('stays above the slowest PONG of the window even when the p99 leaves it out', () => {
    expect(learnedTimeout(feed([...Array(199).fill(10), 1200]), config)).toBe(1320);
  });
  it('clamps the floor to a PROBE_TIMEOUT below it', () => {
    const tight = pongLatencyConfig(600);
    let samples: number[] = [];
    for (let i = 0; i < 50; i++) samples = recordLatency(samples, 1, tight);
    expect(learnedTimeout(samples, tight)).toBe(600);
  });
});
