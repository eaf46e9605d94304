import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events.js';
import { Metrics } from '../../src/health/metrics.js';
import { EpisodeCounter } from '../../src/hints/episodeCounter.js';
import type { UpsSnapshot } from '../../src/supervisor/types.js';

describe('metrics of the spinning-driver watchdog and the USB reset rung', () => {
  it('counts driver-spinning per UPS and usb-reset per UPS and result', async () => {
    const bus = new EventBus();
    const metrics = new Metrics({
      bus,
      snapshots: () => [],
      upsdAnswering: () => true,
      mqttConnected: () => true,
    });
    await metrics.start();
    bus.emit('driver-spinning', { ups: 'ups1', childPid: 1, cpuShare: 0.5, durationMs: 60_000, at: 0 });
    bus.emit('driver-spinning', { ups: 'ups1', childPid: 2, cpuShare: 0.6, durationMs: 61_000, at: 1 });
    bus.emit('usb-reset', { ups: 'ups1', result: 'reset', device: '1-1.2', detail: 'ok', at: 2 });
    bus.emit('usb-reset', { ups: 'ups1', result: 'refused', device: null, detail: 'none', at: 3 });
    bus.emit('recovering', { ups: 'ups1', reason: 'spinning', attempt: 1, at: 4 });
    const text = await metrics.text();
    expect(text).toContain('nut_mqtt_driver_spinning_total{ups="ups1"} 2');
    expect(text).toContain('nut_mqtt_usb_resets_total{ups="ups1",result="reset"} 1');
    expect(text).toContain('nut_mqtt_usb_resets_total{ups="ups1",result="refused"} 1');
    expect(text).toContain('nut_mqtt_driver_restarts_total{ups="ups1",reason="spinning"} 1');
    await metrics.stop();
    expect(bus.listenerCount('driver-spinning')).toBe(0);
  });

  it('exports the 24 h episode counts per UPS and kind, and counts tuning hints', async () => {
    const bus = new EventBus();
    const episodes = new EpisodeCounter({ now: () => 1_000_000 });
    episodes.record('ups1', 'hang');
    episodes.record('ups1', 'hang');
    episodes.record('ups1', 'stale');
    const snapshot = (name: string): UpsSnapshot => ({
      name,
      driver: 'dummy-ups',
      vars: {},
      commands: [],
      supervisor: { state: 'ok', restarts: 0 },
    });
    const metrics = new Metrics({
      bus,
      snapshots: () => [snapshot('ups1'), snapshot('ups2')],
      upsdAnswering: () => true,
      mqttConnected: () => true,
      episodes: (ups) => episodes.counts(ups),
    });
    await metrics.start();
    bus.emit('tuning-hint', {
      ups: 'ups1',
      hint: 'generic-hang',
      kind: 'hang',
      count24h: 2,
      threshold: 2,
      text: '…',
      options: [],
      at: 5,
    });
    const text = await metrics.text();
    expect(text).toContain('nut_mqtt_episodes_24h{ups="ups1",kind="hang"} 2');
    expect(text).toContain('nut_mqtt_episodes_24h{ups="ups1",kind="stale"} 1');
    expect(text).toContain('nut_mqtt_episodes_24h{ups="ups1",kind="spin"} 0');
    expect(text).toContain('nut_mqtt_episodes_24h{ups="ups2",kind="hang"} 0');
    expect(text).toContain('nut_mqtt_tuning_hints_total{ups="ups1",hint="generic-hang"} 1');
    await metrics.stop();
  });
});
