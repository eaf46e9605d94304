import { describe, expect, it } from 'vitest';
import { COMMANDS_REFRESH_MS, CommandsCache } from '../../src/supervisor/commandsCache.js';

describe('CommandsCache: LIST CMD once per driver start', () => {
  it('asks every UPS at first, then only when the refresh interval has passed', () => {
    const cache = new CommandsCache();
    expect(cache.due(['a', 'b'], 0)).toEqual(['a', 'b']);
    cache.answered('a', ['load.off'], true, 0);
    cache.answered('b', ['beeper.disable'], false, 0);
    expect(cache.due(['a', 'b'], COMMANDS_REFRESH_MS - 1)).toEqual([]);
    expect(cache.due(['a', 'b'], COMMANDS_REFRESH_MS)).toEqual(['a', 'b']);
  });

  it('takes an empty list as the answer once the driver is connected (a UPS that lists no command)', () => {
    const cache = new CommandsCache();
    cache.answered('nocmd', [], true, 1000);
    for (const now of [1500, 2000, 60_000]) expect(cache.due(['nocmd'], now)).toEqual([]);
  });

  it('asks again next cycle after an empty list from a driver upsd has no data from yet', () => {
    const cache = new CommandsCache();
    cache.answered('starting', [], false, 1000);
    expect(cache.due(['starting'], 1500)).toEqual(['starting']);
  });

  it('asks again when the driver (re)starts, or when the clock stepped back', () => {
    const cache = new CommandsCache();
    cache.answered('a', [], true, 10_000);
    cache.forget('a');
    expect(cache.due(['a'], 10_001)).toEqual(['a']);
    cache.answered('a', [], true, 10_000);
    expect(cache.due(['a'], 5_000)).toEqual(['a']);
  });
});
