// The tuning hints on a real bus with a stand-in supervisor port: which fault events start an episode, when a hint
// goes out, and that it repeats at most daily.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { type BusEvents, EventBus } from '../../src/events.js';
import { EpisodeCounter } from '../../src/hints/episodeCounter.js';
import { TuningHintsExtension } from '../../src/hints/tuningHintsExtension.js';
import type { UpsConfEntry } from '../../src/nut/confParser.js';
import { NutVersion } from '../../src/nut/nutVersion.js';
import type { SupervisionState, UpsSnapshot } from '../../src/supervisor/types.js';

const HOUR = 60 * 60_000;

function rig(threshold: number, version = '2.8.1') {
  const clock = { now: 100 * 24 * HOUR };
  const bus = new EventBus();
  const states = new Map<string, SupervisionState>([
    ['cp', 'ok'],
    ['other', 'ok'],
  ]);
  const snapshot = (ups: string): UpsSnapshot | undefined => {
    const state = states.get(ups);
    if (!state) return undefined;
    return { name: ups, driver: 'usbhid-ups', vars: {}, commands: [], supervisor: { state, restarts: 0 } };
  };
  const upses: UpsConfEntry[] = [
    { name: 'cp', driver: 'usbhid-ups', port: 'auto', options: { vendorid: '0764' }, line: 1 },
    { name: 'other', driver: 'dummy-ups', port: 'x.dev', options: {}, line: 5 },
  ];
  const episodes = new EpisodeCounter({ now: () => clock.now });
  const hints: BusEvents['tuning-hint'][] = [];
  bus.on('tuning-hint', (e) => hints.push(e));
  const extension = new TuningHintsExtension({
    bus,
    supervisor: { snapshot },
    episodes,
    upses,
    nutVersion: () => NutVersion.of(version),
    threshold,
    logger: pino({ level: 'silent' }),
    now: () => clock.now,
  });
  /** One hang as the supervisor reports it: `hung` while ok, then stale polls while it recovers, then ok. */
  const hang = (ups: string) => {
    bus.emit('hung', { ups, silentMs: 2000, timeoutMs: 2000, at: clock.now });
    states.set(ups, 'recovering');
    bus.emit('stale', { ups, source: 'upsd', at: clock.now });
    bus.emit('stale', { ups, source: 'driver', at: clock.now });
    states.set(ups, 'ok');
  };
  return { clock, bus, states, episodes, hints, extension, hang };
}

describe('TuningHintsExtension', () => {
  it('counts a fault once, under the kind that flagged it first, and only when it found the UPS ok', async () => {
    const { extension, episodes, hang, bus, states, clock } = rig(0);
    await extension.start();
    hang('cp');
    hang('cp');
    expect(episodes.counts('cp')).toEqual({ stale: 0, hang: 2, spin: 0 });
    // A stale that goes through the grace (suspect) and clears is one stale episode however many polls say so.
    bus.emit('stale', { ups: 'cp', source: 'upsd', at: clock.now });
    states.set('cp', 'suspect');
    bus.emit('stale', { ups: 'cp', source: 'upsd', at: clock.now });
    states.set('cp', 'ok');
    bus.emit('driver-spinning', { ups: 'cp', childPid: 1, cpuShare: 0.5, durationMs: 60_000, at: clock.now });
    expect(episodes.counts('cp')).toEqual({ stale: 1, hang: 2, spin: 1 });
    expect(episodes.counts('other')).toEqual({ stale: 0, hang: 0, spin: 0 });
    await extension.stop();
    hang('cp');
    expect(episodes.counts('cp').hang).toBe(2);
  });

  it('hints once when the threshold is reached, then at most daily while episodes keep coming', async () => {
    const { extension, hints, hang, clock } = rig(3);
    await extension.start();
    hang('cp');
    hang('cp');
    expect(hints).toEqual([]);
    hang('cp');
    expect(hints).toHaveLength(1);
    expect(hints[0]).toMatchObject({
      ups: 'cp',
      hint: 'usbhid-cyberpower-hang',
      kind: 'hang',
      count24h: 3,
      threshold: 3,
      options: ['pollonly', 'pollfreq = 60'],
      at: clock.now,
    });
    expect(hints[0]?.text).toContain('NUT 2.8.1 would refuse to start the driver');
    for (let hour = 1; hour < 24; hour++) {
      clock.now += HOUR;
      hang('cp');
    }
    expect(hints).toHaveLength(1);
    clock.now += HOUR;
    hang('cp');
    expect(hints).toHaveLength(2);
    expect(hints[1]?.count24h).toBe(24);
    await extension.stop();
  });

  it('never hints with threshold 0, and keeps UPSes apart', async () => {
    const off = rig(0);
    await off.extension.start();
    for (let i = 0; i < 50; i++) off.hang('cp');
    expect(off.hints).toEqual([]);
    await off.extension.stop();

    const on = rig(2, '2.8.5');
    await on.extension.start();
    on.hang('cp');
    on.hang('other');
    on.hang('cp');
    expect(on.hints.map((h) => [h.ups, h.hint])).toEqual([['cp', 'usbhid-cyberpower-hang']]);
    expect(on.hints[0]?.options).toContain('interrupt_pipe_no_events_tolerance = 10');
    await on.extension.stop();
  });
});
