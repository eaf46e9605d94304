import { describe, expect, it } from 'vitest';
import { type HintInput, HintRepeat, normalizeVendorId, tuningHints } from '../../src/hints/tuningHints.js';
import { NutVersion } from '../../src/nut/nutVersion.js';

const DAY = 24 * 60 * 60_000;

function input(over: Partial<HintInput> = {}): HintInput {
  return {
    ups: 'cp1500',
    driver: 'usbhid-ups',
    options: { vendorid: '0764', port: 'auto' },
    vendorId: '0764',
    nutVersion: NutVersion.of('2.8.3'),
    counts: { stale: 0, hang: 0, spin: 0 },
    threshold: 12,
    ...over,
  };
}

describe('tuningHints', () => {
  it('gives nothing below the threshold, and nothing at all with threshold 0', () => {
    expect(tuningHints(input({ counts: { stale: 11, hang: 11, spin: 11 } }))).toEqual([]);
    expect(tuningHints(input({ threshold: 0, counts: { stale: 500, hang: 500, spin: 500 } }))).toEqual([]);
  });

  it('suggests pollonly, a longer pollfreq and interrupt_pipe_no_events_tolerance to a CyberPower on usbhid-ups, NUT 2.8.3+', () => {
    const [hint, ...rest] = tuningHints(input({ counts: { stale: 12, hang: 0, spin: 0 } }));
    expect(rest).toEqual([]);
    expect(hint).toMatchObject({
      id: 'usbhid-cyberpower-stale',
      kind: 'stale',
      options: ['pollonly', 'pollfreq = 60', 'interrupt_pipe_no_events_tolerance = 10'],
    });
    expect(hint?.text).toContain('12 stale-data episodes in 24 h on cp1500 (usbhid-ups)');
    expect(hint?.text).toContain('[cp1500] in ups.conf');
    expect(hint?.text).toContain('never edits ups.conf');
    expect(hint?.text).not.toContain('left out');
  });

  it.each(['2.8.0', '2.8.1', '2.8.2', '2.8.2.4321'])(
    'leaves interrupt_pipe_no_events_tolerance out on NUT %s, and says why',
    (version) => {
      const [hint] = tuningHints(
        input({ nutVersion: NutVersion.of(version), counts: { stale: 0, hang: 12, spin: 0 } }),
      );
      expect(hint?.id).toBe('usbhid-cyberpower-hang');
      expect(hint?.options).toEqual(['pollonly', 'pollfreq = 60']);
      expect(hint?.text).toContain(
        `\`interrupt_pipe_no_events_tolerance\` is left out: it needs NUT 2.8.3+ and NUT ${version}`,
      );
      expect(hint?.text).toContain('NUT #2087');
    },
  );

  it('leaves interrupt_pipe_no_events_tolerance out when the NUT version is unknown', () => {
    const [hint] = tuningHints(input({ nutVersion: undefined, counts: { stale: 20, hang: 0, spin: 0 } }));
    expect(hint?.options).not.toContain('interrupt_pipe_no_events_tolerance = 10');
    expect(hint?.text).toContain('version unknown');
  });

  it('matches CyberPower by vendor id in any spelling, from ups.conf or the driver', () => {
    expect(normalizeVendorId('0764')).toBe('0764');
    expect(normalizeVendorId('0x0764')).toBe('0764');
    expect(normalizeVendorId(' 764 ')).toBe('0764');
    expect(normalizeVendorId('zz')).toBeUndefined();
    expect(tuningHints(input({ vendorId: '0X0764', counts: { stale: 12, hang: 0, spin: 0 } }))[0]?.id).toBe(
      'usbhid-cyberpower-stale',
    );
  });

  it('gives another vendor on usbhid-ups the generic hint, not the CyberPower one', () => {
    const [hint] = tuningHints(
      input({ vendorId: '051d', options: { vendorid: '051d' }, counts: { stale: 12, hang: 0, spin: 0 } }),
    );
    expect(hint?.id).toBe('generic-stale');
    expect(hint?.options).toEqual(['pollinterval = 5']);
  });

  it('does not suggest again what the section already has; with nothing left the generic hint stands in', () => {
    const some = tuningHints(
      input({ options: { vendorid: '0764', pollonly: true }, counts: { stale: 12, hang: 0, spin: 0 } }),
    );
    expect(some[0]?.options).toEqual(['pollfreq = 60', 'interrupt_pipe_no_events_tolerance = 10']);
    const all = tuningHints(
      input({
        options: {
          pollonly: true,
          pollfreq: '90',
          interrupt_pipe_no_events_tolerance: '5',
          pollinterval: '10',
        },
        counts: { stale: 12, hang: 0, spin: 0 },
      }),
    );
    expect(all).toMatchObject([{ id: 'generic-stale', options: [] }]);
    expect(all[0]?.text).toContain('already long');
  });

  it('tells blazer_ser users about nutdrv_qx and a longer pollinterval', () => {
    const [hint] = tuningHints(
      input({
        driver: 'blazer_ser',
        vendorId: undefined,
        options: { port: '/dev/ttyS0' },
        counts: { stale: 13, hang: 0, spin: 0 },
      }),
    );
    expect(hint).toMatchObject({
      id: 'blazer-nutdrv-qx-stale',
      options: ['driver = nutdrv_qx', 'pollinterval = 5'],
    });
    expect(hint?.text).toContain('nutdrv_qx');
  });

  it('answers spinning on NUT 2.8.0–2.8.2 with an upgrade to 2.8.3+, whatever the driver', () => {
    for (const version of ['2.8.0', '2.8.1', '2.8.2']) {
      const [hint] = tuningHints(
        input({
          driver: 'dummy-ups',
          nutVersion: NutVersion.of(version),
          counts: { stale: 0, hang: 0, spin: 12 },
        }),
      );
      expect(hint).toMatchObject({ id: 'spin-upgrade-nut', kind: 'spin', options: [] });
      expect(hint?.text).toContain(`NUT ${version}`);
      expect(hint?.text).toContain('Upgrade NUT to 2.8.3 or later');
    }
    const [fixed] = tuningHints(
      input({ nutVersion: NutVersion.of('2.8.5'), counts: { stale: 0, hang: 0, spin: 12 } }),
    );
    expect(fixed?.id).toBe('spin-report');
    const [unknown] = tuningHints(input({ nutVersion: undefined, counts: { stale: 0, hang: 0, spin: 12 } }));
    expect(unknown?.id).toBe('spin-nut-version-unknown');
  });

  it('gives one hint per kind that reached the threshold', () => {
    const hints = tuningHints(
      input({ driver: 'dummy-ups', threshold: 2, counts: { stale: 2, hang: 3, spin: 1 } }),
    );
    expect(hints.map((h) => [h.id, h.kind])).toEqual([
      ['generic-stale', 'stale'],
      ['generic-hang', 'hang'],
    ]);
  });
});

describe('HintRepeat', () => {
  it('lets a hint out once, then again only a day later, per UPS and hint', () => {
    const repeat = new HintRepeat(DAY);
    const t0 = 1_000_000;
    expect(repeat.take('ups1', 'generic-hang', t0)).toBe(true);
    expect(repeat.take('ups1', 'generic-hang', t0 + 1)).toBe(false);
    expect(repeat.take('ups1', 'generic-hang', t0 + DAY - 1)).toBe(false);
    expect(repeat.take('ups2', 'generic-hang', t0 + 1)).toBe(true);
    expect(repeat.take('ups1', 'generic-stale', t0 + 1)).toBe(true);
    expect(repeat.take('ups1', 'generic-hang', t0 + DAY)).toBe(true);
    expect(repeat.take('ups1', 'generic-hang', t0 + DAY + 1)).toBe(false);
  });
});
