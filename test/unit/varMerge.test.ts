import { describe, expect, it } from 'vitest';
import { mergePolledVars } from '../../src/supervisor/varMerge.js';

const map = (o: Record<string, string>) => new Map(Object.entries(o));

describe('mergePolledVars', () => {
  it("takes upsd's answer when the feed said nothing newer", () => {
    const { vars, superseded } = mergePolledVars(
      map({ 'ups.load': '20' }),
      map({ 'ups.load': '18' }),
      new Map([['ups.load', 100]]),
      200,
    );
    expect(vars).toEqual(map({ 'ups.load': '20' }));
    expect(superseded).toEqual(['ups.load']);
  });

  it('keeps values the driver pushed after the poll went out (a slow poll never flips them back)', () => {
    const polled = map({ 'ups.load': '65', 'ups.status': 'OL', 'battery.charge': '100' });
    const current = map({ 'ups.load': '35', 'ups.status': 'OB', 'battery.charge': '100' });
    const feedAt = new Map([
      ['ups.load', 300],
      ['ups.status', 250],
    ]);
    const { vars, superseded } = mergePolledVars(polled, current, feedAt, 200);
    expect(vars).toEqual(map({ 'ups.load': '35', 'ups.status': 'OB', 'battery.charge': '100' }));
    expect(superseded).toEqual([]);
  });

  it('keeps a deletion the driver made after the poll went out', () => {
    const { vars } = mergePolledVars(
      map({ 'ups.test.result': 'Done' }),
      map({}),
      new Map([['ups.test.result', 300]]),
      200,
    );
    expect(vars.has('ups.test.result')).toBe(false);
  });
});
