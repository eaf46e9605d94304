import { describe, expect, it } from 'vitest';
import { upsdRestartDelay } from '../../src/supervisor/upsdSupervisor.js';

describe('upsdRestartDelay', () => {
  it('restarts a upsd that had been running at once, and backs off only a upsd that keeps dying at start', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(upsdRestartDelay)).toEqual([
      0, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000,
    ]);
  });
});
