import { describe, expect, it } from 'vitest';
import {
  DRIVER_PROBLEM_TEMPLATE,
  LOW_BATTERY_TEMPLATE,
  MAINS_POWER_TEMPLATE,
  REPLACE_BATTERY_TEMPLATE,
} from '../../src/homeassistant/binarySensors.js';
import { instcmdObjectId } from '../../src/homeassistant/buttons.js';
import { bridgeDevice, upsDevice } from '../../src/homeassistant/device.js';
import {
  buildBridgeDiscovery,
  buildDiscovery,
  diffDiscovery,
  discoveryConfigFilter,
  discoveryInputKey,
  isDiscoveryConfigTopic,
  ownsDiscoveryConfig,
  wantedDiscovery,
} from '../../src/homeassistant/discovery.js';
import { entitySlug } from '../../src/homeassistant/entity.js';
import { NUMERIC_SENSORS } from '../../src/homeassistant/sensors.js';
import { stableStringify } from '../../src/homeassistant/stableStringify.js';
import type { DiscoveryContext, DiscoveryMessage, EntityConfig } from '../../src/homeassistant/types.js';
import {
  RECOVERY_REASONS as RECOVERY_REASON_OPTIONS,
  SUPERVISION_STATES as SUPERVISION_STATE_OPTIONS,
  type UpsSnapshot,
} from '../../src/supervisor/types.js';
import { cyberPowerDev } from '../fixtures/cyberPower.js';
import { HA_ENTITY_ID, HA_TOPIC, HA_UNITS } from '../fixtures/haDiscovery.js';

const ctx: DiscoveryContext = {
  baseTopic: 'nut-mqtt',
  discoveryPrefix: 'homeassistant',
  agentId: 'nas',
  agentVersion: '0.1.0',
  allowedInstcmds: ['beeper.disable', 'beeper.enable', 'test.battery.start.quick', 'restart', 'load.off'],
  origin: { name: 'nut-mqtt', sw_version: '0.1.0', support_url: 'https://example.invalid/nut-mqtt' },
};

function cp1500(overrides: Partial<UpsSnapshot> = {}): UpsSnapshot {
  return {
    name: 'cp1500',
    description: 'CyberPower CP1500PFCLCD (static)',
    driver: 'usbhid-ups',
    vars: cyberPowerDev(123),
    commands: ['beeper.disable', 'beeper.enable', 'test.battery.start.quick', 'load.off.delay'],
    supervisor: { state: 'ok', restarts: 0 },
    ...overrides,
  };
}

/** Every variable any sensor maps, so every sensor is built. */
function kitchenSink(): UpsSnapshot {
  const vars: Record<string, string> = { ...cyberPowerDev(1) };
  for (const spec of NUMERIC_SENSORS) vars[spec.variable] ??= '1';
  return cp1500({ name: 'sink', vars });
}

const byTopic = (messages: DiscoveryMessage[]) => new Map(messages.map((m) => [m.topic, m.payload]));
const find = (messages: DiscoveryMessage[], component: string, objectId: string): EntityConfig => {
  const message = messages.find((m) => m.component === component && m.topic.endsWith(`/${objectId}/config`));
  if (!message) throw new Error(`no ${component} ${objectId} in ${messages.map((m) => m.topic).join(', ')}`);
  return message.payload;
};

describe('buildDiscovery for a CyberPower CP1500PFCLCD', () => {
  const messages = buildDiscovery(cp1500(), ctx);

  it('publishes exactly the entities its variables and commands allow', () => {
    expect(messages.map((m) => m.topic).sort()).toEqual(
      [
        'homeassistant/sensor/nut-mqtt_cp1500/battery_charge/config',
        'homeassistant/sensor/nut-mqtt_cp1500/battery_runtime/config',
        'homeassistant/sensor/nut-mqtt_cp1500/battery_voltage/config',
        'homeassistant/sensor/nut-mqtt_cp1500/input_voltage/config',
        'homeassistant/sensor/nut-mqtt_cp1500/output_voltage/config',
        'homeassistant/sensor/nut-mqtt_cp1500/load/config',
        'homeassistant/sensor/nut-mqtt_cp1500/power/config',
        'homeassistant/sensor/nut-mqtt_cp1500/energy/config',
        'homeassistant/sensor/nut-mqtt_cp1500/status/config',
        'homeassistant/sensor/nut-mqtt_cp1500/time_on_battery/config',
        'homeassistant/sensor/nut-mqtt_cp1500/last_outage_start/config',
        'homeassistant/sensor/nut-mqtt_cp1500/last_outage_end/config',
        'homeassistant/sensor/nut-mqtt_cp1500/last_outage_duration/config',
        'homeassistant/sensor/nut-mqtt_cp1500/last_outage_energy/config',
        'homeassistant/sensor/nut-mqtt_cp1500/longest_outage/config',
        'homeassistant/sensor/nut-mqtt_cp1500/outages_24h/config',
        'homeassistant/sensor/nut-mqtt_cp1500/time_on_battery_24h/config',
        'homeassistant/sensor/nut-mqtt_cp1500/outages_30d/config',
        'homeassistant/sensor/nut-mqtt_cp1500/time_on_battery_30d/config',
        'homeassistant/sensor/nut-mqtt_cp1500/self_test_result/config',
        'homeassistant/sensor/nut-mqtt_cp1500/last_self_test/config',
        'homeassistant/binary_sensor/nut-mqtt_cp1500/battery_attention/config',
        'homeassistant/binary_sensor/nut-mqtt_cp1500/mains_power/config',
        'homeassistant/binary_sensor/nut-mqtt_cp1500/low_battery/config',
        'homeassistant/binary_sensor/nut-mqtt_cp1500/replace_battery/config',
        'homeassistant/binary_sensor/nut-mqtt_cp1500/driver_problem/config',
        'homeassistant/sensor/nut-mqtt_cp1500/supervisor_state/config',
        'homeassistant/sensor/nut-mqtt_cp1500/restart_count/config',
        'homeassistant/sensor/nut-mqtt_cp1500/last_restart/config',
        'homeassistant/sensor/nut-mqtt_cp1500/last_restart_reason/config',
        'homeassistant/sensor/nut-mqtt_cp1500/data_age/config',
        'homeassistant/sensor/nut-mqtt_cp1500/stale_episodes_24h/config',
        'homeassistant/sensor/nut-mqtt_cp1500/hang_episodes_24h/config',
        'homeassistant/sensor/nut-mqtt_cp1500/spin_episodes_24h/config',
        'homeassistant/sensor/nut-mqtt_cp1500/usb_problem/config',
        'homeassistant/button/nut-mqtt_cp1500/restart_driver/config',
        'homeassistant/button/nut-mqtt_cp1500/instcmd_beeper_disable/config',
        'homeassistant/button/nut-mqtt_cp1500/instcmd_beeper_enable/config',
        'homeassistant/button/nut-mqtt_cp1500/instcmd_test_battery_start_quick/config',
      ].sort(),
    );
  });

  it('builds the battery charge sensor field by field', () => {
    expect(find(messages, 'sensor', 'battery_charge')).toEqual({
      unique_id: 'nut-mqtt/nut-mqtt/cp1500/battery_charge',
      name: 'Battery charge',
      default_entity_id: 'sensor.cp1500_battery_charge',
      origin: ctx.origin,
      device: {
        identifiers: ['nut-mqtt/nut-mqtt/cp1500'],
        name: 'CyberPower CP1500PFCLCD (static)',
        manufacturer: 'CPS',
        model: 'CP1500PFCLCD',
        serial_number: 'CTHGN000123',
        via_device: 'nut-mqtt/nut-mqtt/bridge',
      },
      availability: [{ topic: 'nut-mqtt/bridge/state' }, { topic: 'nut-mqtt/cp1500/availability' }],
      availability_mode: 'all',
      device_class: 'battery',
      state_topic: 'nut-mqtt/cp1500',
      value_template:
        "{{ value_json['battery.charge'] if value_json['battery.charge'] is number else None }}",
      unit_of_measurement: '%',
      state_class: 'measurement',
    });
  });

  it('maps the other measurements like Home Assistant’s NUT integration', () => {
    expect(find(messages, 'sensor', 'battery_runtime')).toMatchObject({
      device_class: 'duration',
      unit_of_measurement: 's',
      state_class: 'measurement',
      value_template:
        "{{ value_json['battery.runtime'] if value_json['battery.runtime'] is number else None }}",
    });
    for (const id of ['battery_voltage', 'input_voltage', 'output_voltage']) {
      expect(find(messages, 'sensor', id), id).toMatchObject({
        device_class: 'voltage',
        unit_of_measurement: 'V',
        state_class: 'measurement',
        suggested_display_precision: 1,
      });
    }
    const load = find(messages, 'sensor', 'load');
    expect(load).toMatchObject({ unit_of_measurement: '%', state_class: 'measurement', name: 'Load' });
    expect(load.device_class).toBeUndefined();
    expect(load.value_template).toBe(
      "{{ value_json['ups.load'] if value_json['ups.load'] is number else None }}",
    );
  });

  it('shows the readable status from status_label', () => {
    const status = find(messages, 'sensor', 'status');
    expect(status).toMatchObject({
      name: 'Status',
      state_topic: 'nut-mqtt/cp1500',
      value_template: '{{ value_json.status_label }}',
    });
    expect(status.unit_of_measurement).toBeUndefined();
    expect(status.state_class).toBeUndefined();
    expect(status.device_class).toBeUndefined();
  });

  it('builds binary sensors whose templates emit exactly payload_on/payload_off', () => {
    const mains = find(messages, 'binary_sensor', 'mains_power');
    expect(mains).toMatchObject({
      name: 'Mains power',
      device_class: 'power',
      payload_on: 'ON',
      payload_off: 'OFF',
      value_template: MAINS_POWER_TEMPLATE,
      availability_mode: 'all',
    });
    // power: on means mains present, so OB must give OFF, OL must give ON.
    expect(MAINS_POWER_TEMPLATE).toBe(
      "{% set f = (value_json['ups.status'] | default('')).split() %}{{ 'OFF' if 'OB' in f else 'ON' if 'OL' in f else 'None' }}",
    );
    expect(find(messages, 'binary_sensor', 'low_battery')).toMatchObject({
      device_class: 'battery',
      value_template: LOW_BATTERY_TEMPLATE,
    });
    expect(LOW_BATTERY_TEMPLATE).toBe(
      "{{ 'ON' if 'LB' in (value_json['ups.status'] | default('')).split() else 'OFF' }}",
    );
    expect(find(messages, 'binary_sensor', 'replace_battery')).toMatchObject({
      device_class: 'problem',
      value_template: REPLACE_BATTERY_TEMPLATE,
    });
    expect(REPLACE_BATTERY_TEMPLATE).toContain("'RB' in");
    const driver = find(messages, 'binary_sensor', 'driver_problem');
    expect(driver).toMatchObject({
      device_class: 'problem',
      entity_category: 'diagnostic',
      value_template: DRIVER_PROBLEM_TEMPLATE,
      availability: [{ topic: 'nut-mqtt/bridge/state' }],
    });
    expect(DRIVER_PROBLEM_TEMPLATE).toBe("{{ 'OFF' if value_json.supervisor.state == 'ok' else 'ON' }}");
    for (const m of messages.filter((x) => x.component === 'binary_sensor')) {
      const outputs = [...(m.payload.value_template ?? '').matchAll(/'(ON|OFF|None)'/g)].map((x) => x[1]);
      expect(outputs.length, m.topic).toBeGreaterThanOrEqual(2);
      for (const out of outputs) expect(['ON', 'OFF', 'None'], m.topic).toContain(out);
    }
  });

  it('builds the supervisor diagnostics, available while the UPS itself is not', () => {
    const bridgeOnly = [{ topic: 'nut-mqtt/bridge/state' }];
    expect(find(messages, 'sensor', 'supervisor_state')).toMatchObject({
      entity_category: 'diagnostic',
      device_class: 'enum',
      options: ['starting', 'ok', 'suspect', 'recovering', 'backoff', 'failed', 'stopped'],
      value_template: '{{ value_json.supervisor.state }}',
      availability: bridgeOnly,
    });
    const count = find(messages, 'sensor', 'restart_count');
    expect(count).toMatchObject({
      entity_category: 'diagnostic',
      state_class: 'total_increasing',
      value_template: '{{ value_json.supervisor.restarts }}',
      availability: bridgeOnly,
    });
    expect(count.unit_of_measurement).toBeUndefined();
    expect(find(messages, 'sensor', 'last_restart')).toMatchObject({
      entity_category: 'diagnostic',
      device_class: 'timestamp',
      value_template: '{{ value_json.supervisor.last_restart_at }}',
      availability: bridgeOnly,
    });
    expect(find(messages, 'sensor', 'last_restart_reason')).toMatchObject({
      entity_category: 'diagnostic',
      device_class: 'enum',
      options: RECOVERY_REASON_OPTIONS,
      value_template: '{{ value_json.supervisor.last_restart_reason }}',
    });
    // The lists themselves are pinned by the README test, which documents them.
    expect(SUPERVISION_STATE_OPTIONS).toHaveLength(7);
    expect(find(messages, 'sensor', 'data_age')).toMatchObject({
      device_class: 'duration',
      unit_of_measurement: 's',
      value_template: '{{ value_json.supervisor.seconds_since_fresh }}',
    });
  });

  it('builds one diagnostic sensor per episode kind: a 24 h count, measurement, no unit', () => {
    for (const [kind, name] of [
      ['stale', 'Stale episodes (24 h)'],
      ['hang', 'Hang episodes (24 h)'],
      ['spin', 'Spin episodes (24 h)'],
    ]) {
      const sensor = find(messages, 'sensor', `${kind}_episodes_24h`);
      expect(sensor).toMatchObject({
        unique_id: `nut-mqtt/nut-mqtt/cp1500/${kind}_episodes_24h`,
        name,
        default_entity_id: `sensor.cp1500_${kind}_episodes_24h`,
        entity_category: 'diagnostic',
        state_class: 'measurement',
        state_topic: 'nut-mqtt/cp1500',
        value_template: `{{ value_json.supervisor.episodes_24h.${kind} }}`,
        availability: [{ topic: 'nut-mqtt/bridge/state' }],
      });
      expect(sensor.unit_of_measurement).toBeUndefined();
      expect(sensor.device_class).toBeUndefined();
    }
  });

  it('builds the restart button and one button per allowed and listed instant command', () => {
    expect(find(messages, 'button', 'restart_driver')).toEqual({
      unique_id: 'nut-mqtt/nut-mqtt/cp1500/restart_driver',
      name: 'Restart driver',
      default_entity_id: 'button.cp1500_restart_driver',
      origin: ctx.origin,
      device: find(messages, 'sensor', 'load').device,
      availability: [{ topic: 'nut-mqtt/bridge/state' }],
      availability_mode: 'all',
      device_class: 'restart',
      entity_category: 'config',
      command_topic: 'nut-mqtt/cp1500/command',
      payload_press: 'restart',
    });
    expect(find(messages, 'button', 'instcmd_test_battery_start_quick')).toMatchObject({
      name: 'Start quick battery test',
      command_topic: 'nut-mqtt/cp1500/command',
      payload_press: 'test.battery.start.quick',
      availability: [{ topic: 'nut-mqtt/bridge/state' }, { topic: 'nut-mqtt/cp1500/availability' }],
    });
    expect(find(messages, 'button', 'instcmd_beeper_disable').payload_press).toBe('beeper.disable');
    // load.off.delay is listed but not allowed; load.off is allowed but not listed: neither gets a button.
    expect(messages.some((m) => m.topic.includes('load_off'))).toBe(false);
  });

  it('gives every payload the common fields, unique ids and valid default entity ids', () => {
    const ids = new Set<string>();
    for (const { topic, payload, component } of messages) {
      const match = HA_TOPIC.exec(topic);
      expect(match, topic).not.toBeNull();
      expect(match?.groups?.component).toBe(component);
      expect(payload.unique_id.startsWith('nut-mqtt/nut-mqtt/cp1500/'), topic).toBe(true);
      expect(ids.has(payload.unique_id), payload.unique_id).toBe(false);
      ids.add(payload.unique_id);
      expect(payload.default_entity_id.startsWith(`${component}.cp1500_`), topic).toBe(true);
      expect(payload.default_entity_id, topic).toMatch(HA_ENTITY_ID);
      expect(payload, topic).not.toHaveProperty('object_id');
      expect(payload.origin).toEqual(ctx.origin);
      expect(payload.device.identifiers).toEqual(['nut-mqtt/nut-mqtt/cp1500']);
      expect(payload.availability_mode).toBe('all');
      expect(payload.availability?.[0]).toEqual({ topic: 'nut-mqtt/bridge/state' });
      if (component === 'button') {
        expect(payload.command_topic).toBe('nut-mqtt/cp1500/command');
        expect(payload.state_topic).toBeUndefined();
      } else {
        // The UPS's state, or for outages, self-tests and battery care its history state.
        expect(['nut-mqtt/cp1500', 'nut-mqtt/cp1500/history']).toContain(payload.state_topic);
        expect(payload.value_template).toMatch(/^\{[{%].*[}%]\}$/);
      }
      // NUT names contain dots, so they must be read in bracket form, never as value_json.battery.charge.
      expect(payload.value_template ?? '', topic).not.toMatch(
        /value_json\.(battery|input|output|ups|device|driver)\b/,
      );
    }
  });
});

describe('sensor units', () => {
  it('every sensor spec uses a (device_class, unit) pair Home Assistant accepts', () => {
    for (const spec of NUMERIC_SENSORS) {
      if (spec.deviceClass === undefined) {
        expect(spec.variable).toBe('ups.load');
        expect(spec.unit).toBe('%');
        continue;
      }
      const allowed = HA_UNITS[spec.deviceClass];
      expect(allowed, `${spec.variable}: unknown device class ${spec.deviceClass}`).toBeDefined();
      expect(allowed?.units, `${spec.variable}: unit ${spec.unit}`).toContain(spec.unit);
    }
  });

  it('every built sensor payload (all variables present) passes the same check, state classes included', () => {
    const sensors = buildDiscovery(kitchenSink(), ctx).filter((m) => m.component === 'sensor');
    // The measurements, the status, five supervisor diagnostics, three episode counts, the USB problem (a USB
    // driver), power and energy, nine outage figures and the last outage's energy, two self-test sensors.
    expect(sensors.length).toBe(NUMERIC_SENSORS.length + 1 + 5 + 3 + 1 + 2 + 10 + 2);
    for (const { topic, payload } of sensors) {
      const { device_class: deviceClass, unit_of_measurement: unit, state_class: stateClass } = payload;
      if (deviceClass === undefined) {
        // Plain sensors: the load (%), the text status, the restart counter, the episode and outage counts, the
        // last outage's energy (Wh: Home Assistant's energy class is for totals).
        expect(['%', 'Wh', undefined], topic).toContain(unit);
        continue;
      }
      const allowed = HA_UNITS[deviceClass];
      expect(allowed, `${topic}: device class ${deviceClass}`).toBeDefined();
      if (!allowed) continue;
      if (allowed.units.length === 0) expect(unit, topic).toBeUndefined();
      else expect(allowed.units, `${topic}: unit ${unit}`).toContain(unit);
      if (stateClass === undefined) expect(['enum', 'timestamp', 'date'], topic).toContain(deviceClass);
      else expect(allowed.stateClasses, `${topic}: state class ${stateClass}`).toContain(stateClass);
      if (deviceClass === 'enum') expect(payload.options?.length, topic).toBeGreaterThan(0);
    }
  });

  it('every sensor reading a NUT variable renders it only when it is a number, else None (unknown)', () => {
    const guarded = /^\{\{ (value_json\['[a-z0-9._]+'\]) if \1 is number else None \}\}$/;
    const sensors = buildDiscovery(kitchenSink(), ctx).filter((m) => m.component === 'sensor');
    const readingNut = sensors.filter((m) => m.payload.value_template?.includes("value_json['"));
    expect(readingNut).toHaveLength(NUMERIC_SENSORS.length);
    for (const { topic, payload } of readingNut) {
      expect(payload.value_template, topic).toMatch(guarded);
      expect(payload.state_class, topic).toBe('measurement');
    }
  });

  it('covers every measurement of Home Assistant’s NUT integration listed in the reference', () => {
    const mapped = Object.fromEntries(NUMERIC_SENSORS.map((s) => [s.variable, [s.deviceClass, s.unit]]));
    expect(mapped).toMatchObject({
      'battery.charge': ['battery', '%'],
      'battery.runtime': ['duration', 's'],
      'battery.voltage': ['voltage', 'V'],
      'input.voltage': ['voltage', 'V'],
      'output.voltage': ['voltage', 'V'],
      'input.frequency': ['frequency', 'Hz'],
      'output.frequency': ['frequency', 'Hz'],
      'input.current': ['current', 'A'],
      'output.current': ['current', 'A'],
      'ups.load': [undefined, '%'],
      'ups.realpower': ['power', 'W'],
      'ups.power': ['apparent_power', 'VA'],
      'ups.temperature': ['temperature', '°C'],
      'battery.temperature': ['temperature', '°C'],
    });
  });
});

describe('buildDiscovery for a UPS with few variables', () => {
  it('publishes only the matching entities', () => {
    const snapshot = cp1500({
      name: 'tiny',
      description: undefined,
      vars: { 'battery.charge': '80' },
      commands: [],
    });
    const messages = buildDiscovery(snapshot, ctx);
    expect(messages.map((m) => `${m.component}/${m.topic.split('/')[3]}`)).toEqual([
      'sensor/battery_charge',
      'binary_sensor/driver_problem',
      'sensor/supervisor_state',
      'sensor/restart_count',
      'sensor/last_restart',
      'sensor/last_restart_reason',
      'sensor/data_age',
      'sensor/stale_episodes_24h',
      'sensor/hang_episodes_24h',
      'sensor/spin_episodes_24h',
      'sensor/usb_problem',
      'button/restart_driver',
    ]);
    expect(messages[0]?.payload.device).toEqual({
      identifiers: ['nut-mqtt/nut-mqtt/tiny'],
      name: 'tiny',
      via_device: 'nut-mqtt/nut-mqtt/bridge',
    });
  });

  it('adds the status sensor and flag binary sensors only with ups.status', () => {
    const messages = buildDiscovery(cp1500({ name: 'st', vars: { 'ups.status': 'OL' }, commands: [] }), ctx);
    const ids = messages.map((m) => m.topic.split('/')[3]);
    expect(ids).toEqual(expect.arrayContaining(['status', 'mains_power', 'low_battery', 'replace_battery']));
    expect(ids).not.toContain('battery_charge');
  });
});

describe('devices', () => {
  it('falls back from device.* to ups.* and trims padded values', () => {
    const vars = {
      'ups.mfr': 'APC ',
      'ups.model': ' Back-UPS XS 1400U  ',
      'ups.serial': '4B1948P07984  ',
      'ups.firmware': '926.T2 .I',
    };
    expect(upsDevice(cp1500({ name: 'apc', description: '  ', vars }), ctx)).toEqual({
      identifiers: ['nut-mqtt/nut-mqtt/apc'],
      name: 'apc',
      manufacturer: 'APC',
      model: 'Back-UPS XS 1400U',
      serial_number: '4B1948P07984',
      sw_version: '926.T2 .I',
      via_device: 'nut-mqtt/nut-mqtt/bridge',
    });
  });

  it('prefers device.* over ups.*', () => {
    const vars = {
      'device.mfr': 'Eaton',
      'ups.mfr': 'EATON',
      'device.serial': 'A1',
      'ups.serial': 'B2',
      'device.model': '',
    };
    expect(upsDevice(cp1500({ vars }), ctx)).toMatchObject({ manufacturer: 'Eaton', serial_number: 'A1' });
    expect(upsDevice(cp1500({ vars }), ctx).model).toBeUndefined();
  });

  it('keeps identifiers stable: same snapshot data, same ids, whatever the supervisor state', () => {
    const a = buildDiscovery(cp1500(), ctx);
    const b = buildDiscovery(cp1500({ supervisor: { state: 'failed', restarts: 9, childPid: 4 } }), ctx);
    expect(a.map((m) => stableStringify(m))).toEqual(b.map((m) => stableStringify(m)));
  });

  it('describes the agent as the parent device', () => {
    expect(bridgeDevice(ctx)).toEqual({
      identifiers: ['nut-mqtt/nut-mqtt/bridge'],
      name: 'nas',
      manufacturer: 'nut-mqtt',
      model: 'NUT supervisor and MQTT bridge',
      sw_version: '0.1.0',
    });
  });
});

describe('buildBridgeDiscovery', () => {
  const messages = buildBridgeDiscovery(ctx);

  it('builds the restart-upsd button on the agent device, available with the bridge only', () => {
    expect(find(messages, 'button', 'restart_upsd')).toEqual({
      unique_id: 'nut-mqtt/nut-mqtt/bridge/restart_upsd',
      name: 'Restart upsd',
      default_entity_id: 'button.nas_restart_upsd',
      origin: ctx.origin,
      device: bridgeDevice(ctx),
      availability: [{ topic: 'nut-mqtt/bridge/state' }],
      availability_mode: 'all',
      device_class: 'restart',
      entity_category: 'config',
      command_topic: 'nut-mqtt/bridge/command',
      payload_press: 'restart-upsd',
    });
    expect(messages.map((m) => m.topic)).toContain(
      'homeassistant/button/nut-mqtt_bridge/restart_upsd/config',
    );
  });

  it('builds a connection-state sensor that reads the bridge state itself', () => {
    const connection = find(messages, 'binary_sensor', 'connection_state');
    expect(connection).toMatchObject({
      device_class: 'connectivity',
      entity_category: 'diagnostic',
      state_topic: 'nut-mqtt/bridge/state',
      payload_on: 'online',
      payload_off: 'offline',
    });
    expect(connection.availability).toBeUndefined();
    expect(connection.availability_mode).toBeUndefined();
  });
});

describe('sanitization and collisions', () => {
  it('sanitizes odd UPS names and base topics into valid discovery topics and entity ids', () => {
    const odd = { ...ctx, baseTopic: 'home/nut', agentId: 'Büro NAS!' };
    const messages = [
      ...buildBridgeDiscovery(odd),
      ...buildDiscovery(cp1500({ name: 'ups.1' }), odd),
      ...buildDiscovery(cp1500({ name: 'Server Room' }), odd),
    ];
    for (const m of messages) {
      expect(HA_TOPIC.test(m.topic), m.topic).toBe(true);
      expect(m.payload.default_entity_id, m.topic).toMatch(HA_ENTITY_ID);
    }
    const charge = find(buildDiscovery(cp1500({ name: 'ups.1' }), odd), 'sensor', 'battery_charge');
    expect(charge.unique_id).toBe('nut-mqtt/home/nut/ups.1/battery_charge');
    expect(charge.state_topic).toBe('home/nut/ups.1');
    expect(charge.default_entity_id).toBe('sensor.ups_1_battery_charge');
    expect(find(buildBridgeDiscovery(odd), 'button', 'restart_upsd').default_entity_id).toBe(
      'button.buro_nas_restart_upsd',
    );
  });

  it('keeps UPS names that differ only in replaced characters apart', () => {
    const a = buildDiscovery(cp1500({ name: 'ups.1' }), ctx);
    const b = buildDiscovery(cp1500({ name: 'ups_1' }), ctx);
    const c = buildDiscovery(cp1500({ name: 'ups 1' }), ctx);
    const topics = [a, b, c].map((ms) => new Set(ms.map((m) => m.topic)));
    const uniqueIds = [a, b, c].map((ms) => new Set(ms.map((m) => m.payload.unique_id)));
    for (let i = 0; i < 3; i++) {
      for (let j = i + 1; j < 3; j++) {
        expect([...(topics[i] ?? [])].filter((t) => topics[j]?.has(t))).toEqual([]);
        expect([...(uniqueIds[i] ?? [])].filter((u) => uniqueIds[j]?.has(u))).toEqual([]);
      }
    }
  });

  it('keeps two agents on one broker apart (unique ids and topics include the base)', () => {
    const other = { ...ctx, baseTopic: 'nut-mqtt-garage' };
    const first = wantedDiscovery([cp1500()], new Map(), ctx);
    const second = wantedDiscovery([cp1500()], new Map(), other);
    const firstIds = new Set(first.map((m) => m.payload.unique_id));
    const firstTopics = new Set(first.map((m) => m.topic));
    for (const m of second) {
      expect(firstIds.has(m.payload.unique_id), m.payload.unique_id).toBe(false);
      expect(firstTopics.has(m.topic), m.topic).toBe(false);
    }
  });

  it('publishes nothing for a UPS name that cannot be a topic level', () => {
    for (const name of ['bridge', 'a/b', 'ups+', 'ups#', '', 'u\nx']) {
      expect(buildDiscovery(cp1500({ name }), ctx), JSON.stringify(name)).toEqual([]);
    }
  });

  it('offers no button for instant commands with invalid names or named restart', () => {
    const evil = 'beeper.disable\nINSTCMD ups load.off';
    const messages = buildDiscovery(
      cp1500({ commands: [evil, 'restart', 'beeper.disable', 'beeper.disable'] }),
      { ...ctx, allowedInstcmds: [evil, 'restart', 'beeper.disable'] },
    );
    const buttons = messages.filter((m) => m.component === 'button').map((m) => m.payload.payload_press);
    expect(buttons).toEqual(['restart', 'beeper.disable']);
    expect(instcmdObjectId('driver.reload-or-exit')).toBe('instcmd_driver_reload-or-exit');
  });

  it('slugs entity ids the way Home Assistant accepts', () => {
    expect(entitySlug('Server Room', 'x')).toBe('server_room');
    expect(entitySlug('__a..b__', 'x')).toBe('a_b');
    expect(entitySlug('Ünïcödé', 'x')).toBe('unicode');
    expect(entitySlug('!!!', 'fallback')).toBe('fallback');
  });
});

describe('diffDiscovery', () => {
  const all = (snapshots: UpsSnapshot[]) => wantedDiscovery(snapshots, new Map(), ctx);

  it('publishes everything the first time, as stable JSON', () => {
    const next = all([cp1500()]);
    const diff = diffDiscovery(new Map(), next);
    expect(diff.clear).toEqual([]);
    expect(diff.publish.map((p) => p.topic)).toEqual(next.map((m) => m.topic));
    for (const p of diff.publish) {
      expect(p.payload).toBe(stableStringify(byTopic(next).get(p.topic)));
      expect(JSON.parse(p.payload)).toEqual(byTopic(next).get(p.topic));
    }
    expect(diff.next.size).toBe(next.length);
  });

  it('publishes nothing when nothing changed, even if values or the supervisor state did', () => {
    const first = diffDiscovery(new Map(), all([cp1500()]));
    const changedValues = cp1500({
      vars: { ...cyberPowerDev(123), 'battery.charge': '64', 'ups.status': 'OB DISCHRG' },
      supervisor: { state: 'recovering', restarts: 2 },
    });
    const second = diffDiscovery(first.next, all([changedValues]));
    expect(second.publish).toEqual([]);
    expect(second.clear).toEqual([]);
  });

  it('compares independently of key order', () => {
    const [message] = all([cp1500()]);
    if (!message) throw new Error('no message');
    const reordered = Object.fromEntries(
      Object.entries(message.payload).reverse(),
    ) as unknown as EntityConfig;
    const previous = new Map([[message.topic, stableStringify(message.payload)]]);
    expect(diffDiscovery(previous, [{ ...message, payload: reordered }]).publish).toEqual([]);
  });

  it('re-publishes only what changed', () => {
    const first = diffDiscovery(new Map(), all([cp1500()]));
    const renamed = diffDiscovery(first.next, all([cp1500({ description: 'Rack UPS' })]));
    // The device name is in every payload of that UPS.
    expect(renamed.publish.length).toBe(buildDiscovery(cp1500(), ctx).length);
    expect(renamed.clear).toEqual([]);
    const newCommand = diffDiscovery(
      first.next,
      all([cp1500({ commands: [...cp1500().commands, 'load.off'] })]),
    );
    expect(newCommand.publish.map((p) => p.topic)).toEqual([
      'homeassistant/button/nut-mqtt_cp1500/instcmd_load_off/config',
    ]);
  });

  it('clears the entity of a variable that vanished', () => {
    const first = diffDiscovery(new Map(), all([cp1500()]));
    const vars: Record<string, string> = { ...cyberPowerDev(123) };
    delete vars['battery.runtime'];
    const second = diffDiscovery(first.next, all([cp1500({ vars })]));
    expect(second.publish).toEqual([]);
    expect(second.clear).toEqual(['homeassistant/sensor/nut-mqtt_cp1500/battery_runtime/config']);
    expect(second.next.has('homeassistant/sensor/nut-mqtt_cp1500/battery_runtime/config')).toBe(false);
  });

  it('clears every entity of a UPS removed from ups.conf, and nothing else', () => {
    const other = cp1500({ name: 'cpseq' });
    const first = diffDiscovery(new Map(), all([cp1500(), other]));
    const second = diffDiscovery(first.next, all([cp1500()]));
    expect(second.publish).toEqual([]);
    expect(second.clear).toEqual(
      buildDiscovery(other, ctx)
        .map((m) => m.topic)
        .sort(),
    );
    expect(second.clear.every((t) => t.includes('/nut-mqtt_cpseq/'))).toBe(true);
  });

  it('clears leftovers of an earlier run found on the broker', () => {
    const leftover = 'homeassistant/sensor/nut-mqtt_oldups/battery_charge/config';
    const previous = new Map([[leftover, '{"unique_id":"nut-mqtt/nut-mqtt/oldups/battery_charge"}']]);
    const diff = diffDiscovery(previous, all([cp1500()]));
    expect(diff.clear).toEqual([leftover]);
    expect(diff.publish.length).toBe(all([cp1500()]).length);
  });
});

describe('wantedDiscovery (the keep rule)', () => {
  const waiting = (state: 'starting' | 'recovering') =>
    cp1500({ vars: { 'ups.status': 'WAIT' }, supervisor: { state, restarts: 1 } });

  it('keeps what was sent for a UPS while its data is not fresh, so its entities survive a restart', () => {
    const first = diffDiscovery(new Map(), wantedDiscovery([cp1500()], new Map(), ctx));
    const during = diffDiscovery(first.next, wantedDiscovery([waiting('recovering')], first.next, ctx));
    expect(during.publish).toEqual([]);
    expect(during.clear).toEqual([]);
  });

  it('builds from the snapshot when nothing was sent for the UPS yet, and once it is ok again', () => {
    const fresh = wantedDiscovery([waiting('starting')], new Map(), ctx);
    expect(fresh.map((m) => m.topic)).toEqual(
      [...buildBridgeDiscovery(ctx), ...buildDiscovery(waiting('starting'), ctx)].map((m) => m.topic),
    );
    const sent = diffDiscovery(new Map(), wantedDiscovery([cp1500()], new Map(), ctx)).next;
    const smaller = cp1500({ vars: { 'ups.status': 'OL' } });
    expect(wantedDiscovery([smaller], sent, ctx)).toEqual(wantedDiscovery([smaller], new Map(), ctx));
  });
});

describe('ownsDiscoveryConfig', () => {
  const payload = (uniqueId: unknown) => JSON.stringify({ unique_id: uniqueId, name: 'x' });

  it('recognizes this agent’s retained configs', () => {
    const topic = 'homeassistant/sensor/nut-mqtt_cp1500/battery_charge/config';
    expect(ownsDiscoveryConfig(topic, payload('nut-mqtt/nut-mqtt/cp1500/battery_charge'), ctx)).toBe(true);
    expect(
      ownsDiscoveryConfig(topic, Buffer.from(payload('nut-mqtt/nut-mqtt/bridge/restart_upsd')), ctx),
    ).toBe(true);
  });

  it('leaves other agents’, other integrations’ and junk alone', () => {
    const topic = 'homeassistant/sensor/x/y/config';
    expect(ownsDiscoveryConfig(topic, payload('nut-mqtt/nut-mqtt-garage/cp1500/load'), ctx)).toBe(false);
    expect(ownsDiscoveryConfig(topic, payload('nut-mqtt/nut-mqtt/sub/cp1500/load'), ctx)).toBe(false);
    expect(ownsDiscoveryConfig(topic, payload('0x00158d0001_battery_zigbee2mqtt'), ctx)).toBe(false);
    expect(ownsDiscoveryConfig(topic, payload(42), ctx)).toBe(false);
    expect(ownsDiscoveryConfig(topic, '', ctx)).toBe(false);
    expect(ownsDiscoveryConfig(topic, '{not json', ctx)).toBe(false);
    expect(ownsDiscoveryConfig(topic, 'null', ctx)).toBe(false);
    expect(ownsDiscoveryConfig(topic, Buffer.from([0xff, 0xfe]), ctx)).toBe(false);
    expect(
      ownsDiscoveryConfig('other/sensor/x/y/config', payload('nut-mqtt/nut-mqtt/cp1500/load'), ctx),
    ).toBe(false);
    expect(ownsDiscoveryConfig('homeassistant/status', payload('nut-mqtt/nut-mqtt/cp1500/load'), ctx)).toBe(
      false,
    );
  });

  it('names the leftover-scan filter and recognises the topics it matches', () => {
    expect(discoveryConfigFilter('homeassistant')).toBe('homeassistant/+/+/+/config');
    expect(isDiscoveryConfigTopic('homeassistant/sensor/nut_ups1/load/config', 'homeassistant')).toBe(true);
    expect(isDiscoveryConfigTopic('homeassistant/status', 'homeassistant')).toBe(false);
    expect(isDiscoveryConfigTopic('other/sensor/nut_ups1/load/config', 'homeassistant')).toBe(false);
    expect(isDiscoveryConfigTopic('homeassistant/sensor/x/nut_ups1/load/config', 'homeassistant')).toBe(
      false,
    );
  });
});

describe('discoveryInputKey', () => {
  it('stays the same for new readings, so discovery is not rebuilt on every update', () => {
    const a = cp1500();
    const b = cp1500({ vars: { ...a.vars, 'battery.charge': '42', 'ups.load': '77', 'ups.status': 'OB' } });
    expect(discoveryInputKey(b)).toBe(discoveryInputKey(a));
    expect(buildDiscovery(b, ctx)).toEqual(buildDiscovery(a, ctx));
  });

  it('changes with a new variable, a new command, the description or the device identity', () => {
    const a = cp1500();
    const key = discoveryInputKey(a);
    expect(discoveryInputKey(cp1500({ vars: { ...a.vars, 'ups.temperature': '30' } }))).not.toBe(key);
    expect(discoveryInputKey(cp1500({ commands: [...a.commands, 'beeper.toggle'] }))).not.toBe(key);
    expect(discoveryInputKey(cp1500({ description: 'Another name' }))).not.toBe(key);
    expect(discoveryInputKey(cp1500({ vars: { ...a.vars, 'device.serial': 'OTHER' } }))).not.toBe(key);
  });
});
