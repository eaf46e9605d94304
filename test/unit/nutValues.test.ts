// NUT values as JSON: the plain-decimal rule, the clock forms of battery runtimes, and measurements that are a
// number or null. The odd shapes are those seen when NUT's device dump library was fed through dummy-ups (runtimes
// as m:ss from some drivers, a placeholder temperature), written here as our own test data.
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events.js';
import { Metrics } from '../../src/health/metrics.js';
import { NUMERIC_SENSORS } from '../../src/homeassistant/sensors.js';
import { stateJson, stateValue } from '../../src/mqtt/payloads.js';
import {
  DURATION_VARIABLES,
  parseClockDuration,
  parseMeasurement,
  parseNutValue,
} from '../../src/nut/values.js';
import type { UpsSnapshot } from '../../src/supervisor/types.js';

/** [variable, what NUT sent, the JSON value]: `raw` alone means the value stays the exact string. */
type Case = [name: string, raw: string, expected?: string | number | null];

const check = (parse: (name: string, raw: string) => unknown, cases: readonly Case[]) => {
  for (const [name, raw, ...expected] of cases) {
    expect(parse(name, raw), `${name}: ${JSON.stringify(raw)}`).toBe(expected.length > 0 ? expected[0] : raw);
  }
};

/** A UPS whose driver wrote `vars`, with fresh data. */
const ups = (vars: Record<string, string>): UpsSnapshot => ({
  name: 'odd',
  driver: 'dummy-ups',
  vars,
  commands: [],
  supervisor: { state: 'ok', restarts: 0 },
});

describe('parseClockDuration', () => {
  it('reads m:ss, mm:ss (minutes past 59 too) and h:mm:ss as seconds', () => {
    const cases: Array<[string, number]> = [
      ['1:57', 117],
      ['3:58', 238],
      ['36:00', 2160],
      ['64:41', 3881],
      ['1:02:03', 3723],
      ['0:00', 0],
      ['00:30', 30],
      [' 2:05 ', 125],
    ];
    for (const [raw, seconds] of cases) expect(parseClockDuration(raw), raw).toBe(seconds);
  });

  it('reads nothing else', () => {
    for (const raw of [
      '',
      '117',
      '1:60',
      '1:5',
      '1:02:60',
      '1:60:00',
      '-1:57',
      '1:57.5',
      '1::57',
      ':57',
      '1:57:',
    ]) {
      expect(parseClockDuration(raw), JSON.stringify(raw)).toBeUndefined();
    }
    expect(parseClockDuration('1:02:03:04')).toBeUndefined();
    expect(parseClockDuration('XX:XX')).toBeUndefined();
  });
});

describe('parseNutValue', () => {
  it('makes plain decimals JSON numbers', () => {
    check(parseNutValue, [
      ['battery.charge', '100', 100],
      ['battery.voltage', '24.0', 24],
      ['input.voltage', '121.5', 121.5],
      ['ups.timer.shutdown', '-60', -60],
      ['ups.load', '0', 0],
      ['input.frequency', '0.5', 0.5],
      ['input.voltage', ' 230.0 ', 230],
      // Too many digits for a double to hold exactly is an id; 15 still fit.
      ['ups.load', '123456789012345', 123456789012345],
    ]);
  });

  it('keeps leading zeros, hex-ish ids, identifiers and versions as strings', () => {
    check(parseNutValue, [
      ['ups.serial', '000123'],
      ['ups.productid', '0501'],
      ['ups.vendorid', '0764'],
      ['ups.vendorid', '051d'],
      ['ups.serial', '123456'],
      ['device.serial', '42'],
      ['ups.productid', '5161'],
      ['ups.id', '7'],
      ['driver.version.internal', '0.10'],
      ['driver.version', '2.8.0'],
      ['ups.firmware', '1.00'],
      ['battery.mfr.date', '2019'],
      ['ups.model', '1500'],
      ['ups.status', 'OL'],
      ['ups.test.result', 'No test initiated'],
      ['ups.load', '12345678901234567'],
    ]);
    const odd = ['007', '-07', '1e3', '+5', '.5', '5.', '0x1F', 'Infinity', 'NaN', '', ' ', '1 2', '12abc'];
    check(
      parseNutValue,
      odd.map((raw): Case => ['ups.load', raw]),
    );
  });

  it('reads the battery runtimes written as clock times in seconds, and only those', () => {
    check(parseNutValue, [
      ['battery.runtime', '1:57', 117],
      ['battery.runtime', '64:41', 3881],
      ['battery.runtime.low', '3:58', 238],
      ['battery.runtime.restart', '36:00', 2160],
      ['battery.runtime', '1:02:03', 3723],
      ['battery.runtime', '2370', 2370],
      // Not a runtime, or not a clock form: the exact string, as for any other variable.
      ['battery.runtime.low', 'n/a'],
      ['ups.time', '12:34:56'],
      ['ups.delay.shutdown', '0:20'],
      ['battery.runtime', '1:60'],
    ]);
  });
});

describe('parseMeasurement', () => {
  it('is a number whenever the UPS wrote one, negative, decimal or padded', () => {
    check(parseMeasurement, [
      ['ups.temperature', '25.0', 25],
      ['ups.temperature', '-5', -5],
      ['ups.temperature', '-0.5', -0.5],
      ['input.voltage', '024.0', 24],
      ['ups.load', ' 18 ', 18],
      ['battery.runtime', '1:57', 117],
      ['battery.runtime', '1:02:03', 3723],
    ]);
  });

  it('is null for placeholders and anything else that is not a number', () => {
    const placeholders = ['XX.X', '', ' ', 'n/a', 'NaN', 'Infinity', '1e3', '0x1F', '+5', '.5', '12abc'];
    check(
      parseMeasurement,
      placeholders.map((raw): Case => ['ups.temperature', raw, null]),
    );
    // A clock form is a runtime's only: a temperature of 1:57 is garbage.
    expect(parseMeasurement('ups.temperature', '1:57')).toBeNull();
  });
});

describe('numeric sensor variables in the state', () => {
  it('are a number or null, while other variables keep their text', () => {
    check(stateValue, [
      ['battery.runtime', '64:41', 3881],
      ['ups.temperature', 'XX.X', null],
      ['ups.load', '', null],
      ['battery.charge', 'n/a', null],
      ['battery.voltage', '-12.5', -12.5],
      ['battery.runtime.low', '0:30', 30],
      ['battery.runtime.low', 'n/a'],
      ['ups.serial', '000123'],
      ['ups.vendorid', '0764'],
    ]);
  });

  it('reach the retained JSON as numbers and nulls', () => {
    const state = stateJson(
      ups({
        'battery.runtime': '1:57',
        'ups.temperature': 'XX.X',
        'ups.status': 'OL',
        'ups.productid': '0501',
      }),
      0,
    );
    const text = JSON.stringify(state);
    expect(text).toContain('"battery.runtime":117,');
    expect(text).toContain('"ups.temperature":null,');
    expect(text).toContain('"ups.productid":"0501",');
  });

  it('every duration sensor reads a variable of the one duration list', () => {
    const durations = NUMERIC_SENSORS.filter((spec) => spec.deviceClass === 'duration');
    expect(durations.length).toBeGreaterThan(0);
    for (const spec of durations) expect(DURATION_VARIABLES.has(spec.variable), spec.variable).toBe(true);
  });

  it('feed the Prometheus gauges by the same rule', async () => {
    const metrics = new Metrics({
      bus: new EventBus(),
      snapshots: () => [ups({ 'battery.runtime': '36:00', 'ups.temperature': 'XX.X', 'ups.load': '' })],
      upsdAnswering: () => true,
      mqttConnected: () => true,
    });
    const text = await metrics.text();
    expect(text).toContain('nut_battery_runtime_seconds{ups="odd"} 2160');
    expect(text).not.toMatch(/^nut_ups_temperature_celsius\{/m);
    expect(text).not.toMatch(/^nut_ups_load_percent\{/m);
  });
});
