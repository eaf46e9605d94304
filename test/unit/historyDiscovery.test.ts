import { describe, expect, it } from 'vitest';
import { SELF_TEST_RESULTS } from '../../src/history/selfTest.js';
import {
  buildBridgeDiscovery,
  buildDiscovery,
  discoveryInputKey,
} from '../../src/homeassistant/discovery.js';
import type { DiscoveryContext, DiscoveryMessage, EntityConfig } from '../../src/homeassistant/types.js';
import type { UpsSnapshot } from '../../src/supervisor/types.js';
import { cyberPowerDev } from '../fixtures/cyberPower.js';
import { discoveryProblems } from '../fixtures/haDiscovery.js';

const ctx: DiscoveryContext = {
  baseTopic: 'nut',
  discoveryPrefix: 'homeassistant',
  agentId: 'nut-mqtt',
  agentVersion: '0.1.0',
  allowedInstcmds: ['test.battery.start.quick', 'test.battery.start.deep'],
  origin: { name: 'nut-mqtt', sw_version: '0.1.0' },
  selfTestSchedule: 'quick',
  batteryLifeMonths: 36,
};

function ups(overrides: Partial<UpsSnapshot> = {}, vars: Record<string, string> = {}): UpsSnapshot {
  return {
    name: 'ups1',
    driver: 'blazer_ser',
    vars: { ...cyberPowerDev(1), 'battery.date': '2023/05/17', ...vars },
    commands: ['beeper.toggle', 'test.battery.start.deep', 'test.battery.start.quick', 'test.battery.stop'],
    supervisor: { state: 'ok', restarts: 0 },
    ...overrides,
  };
}

const HISTORY_SENSORS = [
  'time_on_battery',
  'last_outage_start',
  'last_outage_end',
  'last_outage_duration',
  'longest_outage',
  'outages_24h',
  'time_on_battery_24h',
  'outages_30d',
  'time_on_battery_30d',
  'last_outage_energy',
  'self_test_result',
  'last_self_test',
  'next_self_test',
  'battery_age',
  'battery_replace_by',
];

const ids = (messages: DiscoveryMessage[]) => messages.map((m) => `${m.component}/${m.topic.split('/')[3]}`);
const find = (messages: DiscoveryMessage[], objectId: string): EntityConfig => {
  const found = messages.find((m) => m.topic.split('/')[3] === objectId);
  if (!found) throw new Error(`no ${objectId}`);
  return found.payload;
};

describe('history entities (outages, self-tests, battery care)', () => {
  const messages = buildDiscovery(ups(), ctx);

  it('offers every outage, self-test and battery entity for a UPS that has all it takes', () => {
    for (const id of HISTORY_SENSORS) expect(ids(messages)).toContain(`sensor/${id}`);
    expect(ids(messages)).toContain('binary_sensor/battery_attention');
    // The buttons are the instant-command buttons of the two test commands (allowed and listed).
    expect(ids(messages)).toContain('button/instcmd_test_battery_start_quick');
    expect(ids(messages)).toContain('button/instcmd_test_battery_start_deep');
  });

  it('passes the discovery validator, every entity of the UPS and of the agent', () => {
    const all = [...messages, ...buildBridgeDiscovery(ctx)];
    expect(all.flatMap(discoveryProblems)).toEqual([]);
  });

  it('reads the history topic, with the right classes and units', () => {
    expect(find(messages, 'time_on_battery')).toMatchObject({
      state_topic: 'nut/ups1/history',
      device_class: 'duration',
      unit_of_measurement: 's',
      state_class: 'measurement',
      value_template:
        '{{ value_json.time_on_battery_s if value_json.time_on_battery_s is number else None }}',
      json_attributes_topic: 'nut/ups1/history',
      json_attributes_template: "{{ {'since': value_json.on_battery_since} | tojson }}",
      availability: [{ topic: 'nut/bridge/state' }, { topic: 'nut/ups1/availability' }],
    });
    // The history stays readable while the UPS's data is stale.
    expect(find(messages, 'outages_24h').availability).toEqual([{ topic: 'nut/bridge/state' }]);
    expect(find(messages, 'last_outage_start')).toMatchObject({
      device_class: 'timestamp',
      value_template: '{{ value_json.last_outage_start }}',
    });
    expect(find(messages, 'self_test_result')).toMatchObject({
      device_class: 'enum',
      options: [...SELF_TEST_RESULTS],
      value_template: '{{ value_json.self_test_result }}',
    });
    expect(find(messages, 'battery_replace_by')).toMatchObject({ device_class: 'date' });
    expect(find(messages, 'battery_age')).toMatchObject({
      device_class: 'duration',
      unit_of_measurement: 'd',
    });
    expect(find(messages, 'battery_attention')).toMatchObject({
      device_class: 'problem',
      value_template: "{{ 'ON' if value_json.battery_attention else 'OFF' }}",
      json_attributes_template:
        "{{ {'reason': value_json.battery_attention_text, 'reasons': value_json.battery_attention_reasons} | tojson }}",
    });
    expect(find(messages, 'last_outage_energy')).toMatchObject({ unit_of_measurement: 'Wh' });
    expect(find(messages, 'last_outage_energy').device_class).toBeUndefined();
  });

  it('offers no self-test entity and no test button for a UPS whose driver has no test command', () => {
    const dummy = buildDiscovery(ups({ driver: 'dummy-ups', commands: [] }), ctx);
    const found = ids(dummy);
    for (const id of ['self_test_result', 'last_self_test', 'next_self_test'])
      expect(found).not.toContain(`sensor/${id}`);
    expect(found.some((id) => id.includes('test_battery'))).toBe(false);
    expect(found).toContain('sensor/outages_24h');
  });

  it('offers the next self-test only with a schedule that can run the UPS’s command', () => {
    const { selfTestSchedule: _, ...unscheduled } = ctx;
    expect(ids(buildDiscovery(ups(), unscheduled))).not.toContain('sensor/next_self_test');
    const deepOnly = ups({ commands: ['test.battery.start.deep'] });
    expect(ids(buildDiscovery(deepOnly, ctx))).not.toContain('sensor/next_self_test');
    expect(ids(buildDiscovery(deepOnly, ctx))).toContain('sensor/self_test_result');
  });

  it('offers battery age only for a usable date, and replace-by only with a battery life', () => {
    const cps = ups({}, { 'battery.date': 'CPS', 'battery.mfr.date': 'CPS' });
    expect(ids(buildDiscovery(cps, ctx))).not.toContain('sensor/battery_age');
    expect(ids(buildDiscovery(ups(), { ...ctx, batteryLifeMonths: 0 }))).not.toContain(
      'sensor/battery_replace_by',
    );
    // A date that becomes usable rebuilds discovery (the input key follows it).
    expect(discoveryInputKey(cps)).not.toBe(discoveryInputKey(ups()));
  });

  it('offers the outage entities only with ups.status, and the outage energy only with a power source', () => {
    const vars = { 'battery.charge': '90' };
    const bare = buildDiscovery(ups({ vars, commands: [] }), ctx);
    expect(ids(bare).filter((id) => id.includes('outage') || id.includes('attention'))).toEqual([]);
    const noPower = cyberPowerDev(1);
    delete noPower['ups.realpower.nominal'];
    const withoutPower = buildDiscovery(ups({ vars: noPower }), ctx);
    expect(ids(withoutPower)).toContain('sensor/last_outage_duration');
    expect(ids(withoutPower)).not.toContain('sensor/last_outage_energy');
  });
});
