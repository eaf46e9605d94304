import { describe, expect, it } from 'vitest';
import { buildDiscovery } from '../../src/homeassistant/discovery.js';
import type { DiscoveryContext } from '../../src/homeassistant/types.js';
import { agentDeviceName } from '../../src/mqtt/extensions.js';
import { stateChangeKey, stateJson } from '../../src/mqtt/payloads.js';
import type { UpsSnapshot } from '../../src/supervisor/types.js';

const ctx: DiscoveryContext = {
  baseTopic: 'nut',
  discoveryPrefix: 'homeassistant',
  agentId: 'nut-mqtt',
  agentVersion: '1.0.0',
  allowedInstcmds: [],
  origin: { name: 'nut-mqtt' },
};

const ups = (vars: Record<string, string>): UpsSnapshot => ({
  name: 'ups1',
  driver: 'dummy-ups',
  vars: { 'ups.status': 'OL', ...vars },
  commands: [],
  supervisor: { state: 'ok', restarts: 0 },
});

const entity = (snapshot: UpsSnapshot, objectId: string, context = ctx) =>
  buildDiscovery(snapshot, context).find(
    (m) => m.topic === `homeassistant/sensor/nut_ups1/${objectId}/config`,
  )?.payload;

describe('power and energy in the state JSON', () => {
  const reading = {
    power: { watts: 162.04, source: 'ups.load*ups.realpower.nominal' as const },
    kwh: 1.2345678,
  };

  it('adds power_w, power_source and energy_kwh when the UPS has a power source', () => {
    const json = stateJson(ups({ 'ups.load': '18' }), 0, reading);
    expect(json).toMatchObject({
      power_w: 162,
      power_source: 'ups.load*ups.realpower.nominal',
      energy_kwh: 1.234568,
    });
    expect(stateJson(ups({}), 0)).not.toHaveProperty('power_w');
    expect(stateJson(ups({}), 0)).not.toHaveProperty('energy_kwh');
  });

  it('a growing energy total alone is not a change worth publishing; a power change is', () => {
    const key = (kwh: number, watts = 162) =>
      stateChangeKey(stateJson(ups({}), 0, { power: { ...reading.power, watts }, kwh }));
    expect(key(1.5)).toBe(key(1.6));
    expect(key(1.5, 200)).not.toBe(key(1.5));
  });
});

describe('power and energy discovery', () => {
  it('offers both for the energy dashboard where a power source exists, the source as an attribute', () => {
    const snapshot = ups({ 'ups.load': '18', 'ups.realpower.nominal': '900' });
    expect(entity(snapshot, 'power')).toMatchObject({
      device_class: 'power',
      unit_of_measurement: 'W',
      state_class: 'measurement',
      state_topic: 'nut/ups1',
      value_template: '{{ value_json.power_w }}',
      json_attributes_topic: 'nut/ups1',
      json_attributes_template: "{{ {'source': value_json.power_source} | tojson }}",
    });
    expect(entity(snapshot, 'energy')).toMatchObject({
      device_class: 'energy',
      unit_of_measurement: 'kWh',
      state_class: 'total_increasing',
      state_topic: 'nut/ups1',
      value_template: '{{ value_json.energy_kwh }}',
    });
  });

  it('offers neither without a power source; a VA rating counts only with a power factor set', () => {
    const vaOnly = ups({ 'ups.load': '18', 'ups.power.nominal': '1500' });
    expect(entity(ups({ 'battery.charge': '100' }), 'power')).toBeUndefined();
    expect(entity(vaOnly, 'power')).toBeUndefined();
    expect(entity(vaOnly, 'energy')).toBeUndefined();
    expect(entity(vaOnly, 'energy', { ...ctx, powerFactor: 0.6 })).toBeDefined();
  });
});

describe("the agent's device name (HA_DEVICE_NAME)", () => {
  it('is what the user set, else nut-mqtt (with the base topic when it is not the default), never the host', () => {
    expect(agentDeviceName('  Keller NAS ', 'nut')).toBe('Keller NAS');
    expect(agentDeviceName('', 'nut')).toBe('nut-mqtt');
    expect(agentDeviceName('', 'home/nut')).toBe('nut-mqtt (home/nut)');
  });
});
