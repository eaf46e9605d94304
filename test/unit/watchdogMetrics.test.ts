import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events.js';
import { Metrics } from '../../src/health/metrics.js';

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
});
