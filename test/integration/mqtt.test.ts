// The MQTT bridge against a real Mosquitto broker and real NUT 2.8.0 (dummy-ups with CyberPower CP1500PFCLCD data):
// topics and payloads as a subscriber receives them, Home Assistant discovery, restart commands (the real
// mosquitto_pub CLI, a flood of 1,000) and junk on the command topics.
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentUnderTest } from '../fixtures/agent.js';
import { cyberPowerDev } from '../fixtures/cyberPower.js';
import type { Broker } from '../fixtures/mosquitto.js';
import { type MqttAgent, startMqttAgent } from '../fixtures/mqttAgent.js';
import { json, type Observer, retainedOn } from '../fixtures/mqttObserver.js';
import { type NutLab, processAlive, sleep, waitFor } from '../fixtures/nutLab.js';
import { NUT_VERSION, ON_NUT } from '../fixtures/nutVersion.js';

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
const HA = 'homeassistant';

describe(`MQTT bridge with two CyberPower-like dummy-ups UPSes, ${ON_NUT}`, () => {
  let broker: Broker;
  let lab: NutLab;
  let agent: AgentUnderTest;
  let obs: Observer;

  let setup: MqttAgent | undefined;

  beforeAll(async () => {
    setup = await startMqttAgent({
      upses: [
        { name: 'ups1', desc: 'Server rack', dev: cyberPowerDev(1) },
        {
          name: 'ups2',
          dev: cyberPowerDev(2, {
            'input.frequency': '60.0',
            'ups.realpower': 162,
            'ups.power': 180,
            // Shapes some real drivers send: a runtime as minutes:seconds, a placeholder temperature.
            'battery.runtime': '64:41',
            'ups.temperature': 'XX.X',
          }),
        },
      ],
      env: { COMMAND_COOLDOWN: '10000' },
    });
    ({ broker, lab, agent, obs } = setup);
    for (const ups of ['ups1', 'ups2']) {
      await obs.waitFor(`nut/${ups}/availability`, (m) => m.text === 'online');
      // Discovery follows once the data is fresh; the battery sensor is one of the last entities it adds.
      await obs.waitFor(`${HA}/sensor/nut_${ups}/battery_charge/config`, (m) => m.text.length > 0);
    }
  });

  afterAll(() => setup?.stop());

  it('publishes bridge state and info, retained', async () => {
    const retained = await retainedOn(broker, ['nut/bridge/#']);
    expect(retained.get('nut/bridge/state')).toBe('online');
    const info = JSON.parse(retained.get('nut/bridge/info') ?? '{}') as Record<string, unknown>;
    expect(info).toMatchObject({
      version: VERSION,
      nut_version: NUT_VERSION,
      upsd: `127.0.0.1:${lab.port}`,
      ups: ['ups1', 'ups2'],
    });
    const config = info.config as { mqtt: Record<string, unknown>; homeassistant: Record<string, unknown> };
    expect(config.mqtt).toMatchObject({ url: broker.url, baseTopic: 'nut', protocolVersion: 5 });
    expect(config.mqtt.clientId).toMatch(/^nut-mqtt_nut_[A-Za-z0-9_-]+$/);
    expect(config.homeassistant).toEqual({
      discovery: true,
      discoveryPrefix: 'homeassistant',
      statusTopic: 'homeassistant/status',
      deviceName: '',
      powerFactor: 0,
    });
  });

  it('publishes the UPS state as typed JSON, with the supervisor view, and availability online', async () => {
    const retained = await retainedOn(broker, ['nut/ups1', 'nut/ups1/availability']);
    expect(retained.get('nut/ups1/availability')).toBe('online');
    const state = JSON.parse(retained.get('nut/ups1') ?? '{}') as Record<string, unknown>;
    // Numbers as numbers (NUT sends "24.0", "-60"), identifiers and words as strings.
    expect(state['battery.charge']).toBe(100);
    expect(state['battery.runtime']).toBe(2370);
    expect(state['battery.voltage']).toBe(24);
    expect(state['input.voltage']).toBe(121);
    expect(state['ups.load']).toBe(18);
    expect(state['ups.timer.shutdown']).toBe(-60);
    expect(state['ups.status']).toBe('OL');
    expect(state['ups.serial']).toBe('CTHGN000001');
    expect(state['ups.productid']).toBe('0501');
    expect(state['ups.vendorid']).toBe('0764');
    expect(state['battery.type']).toBe('PbAcid');
    expect(state['device.model']).toBe('CP1500PFCLCD');
    expect(state.status_label).toBe('Online');
    const supervisor = state.supervisor as Record<string, unknown>;
    expect(supervisor).toMatchObject({ state: 'ok', last_restart_at: null, last_restart_reason: null });
    expect(typeof supervisor.restarts).toBe('number');
    expect(typeof supervisor.seconds_since_fresh).toBe('number');
    expect(supervisor.episodes_24h).toEqual({ stale: 0, hang: 0, spin: 0 });
    // Every NUT variable is there under its NUT name.
    const vars = await lab.upsc('ups1');
    for (const name of Object.keys(vars)) expect(state).toHaveProperty([name]);
  });

  it('publishes a runtime written as minutes:seconds in seconds, and a placeholder temperature as null', async () => {
    const retained = await retainedOn(broker, ['nut/ups2']);
    const state = JSON.parse(retained.get('nut/ups2') ?? '{}') as Record<string, unknown>;
    expect((await lab.upsc('ups2'))['ups.temperature']).toBe('XX.X');
    expect(state['battery.runtime']).toBe(3881);
    expect(state).toHaveProperty(['ups.temperature'], null);
    expect(state['ups.realpower']).toBe(162);
  });

  it('does not republish the state of a UPS whose data does not change (2.8.1+ drivers flip driver.state on every update)', async () => {
    const since = obs.mark();
    const updates = agent.mark();
    // Three dummy-ups update cycles (pollinterval 2 s): each one is a driver.state updateinfo → quiet on 2.8.1+.
    await sleep(6500);
    expect(agent.eventsOf('recovering', undefined, updates)).toEqual([]);
    expect(obs.on('nut/ups1', since).map((m) => json(m)['driver.state'])).toEqual([]);
  });

  it('publishes Home Assistant discovery for the CyberPower UPS, field by field', async () => {
    const retained = await retainedOn(broker, [`${HA}/#`]);
    const config = (component: string, node: string, object: string) => {
      const text = retained.get(`${HA}/${component}/${node}/${object}/config`);
      if (text === undefined) throw new Error(`no retained config ${component}/${node}/${object}`);
      return JSON.parse(text) as Record<string, unknown>;
    };
    const ups1Topics = [...retained.keys()].filter((t) => t.split('/')[2] === 'nut_ups1').sort();
    expect(ups1Topics).toEqual(
      [
        'binary_sensor/nut_ups1/battery_attention',
        'binary_sensor/nut_ups1/driver_problem',
        'binary_sensor/nut_ups1/low_battery',
        'binary_sensor/nut_ups1/mains_power',
        'binary_sensor/nut_ups1/replace_battery',
        'button/nut_ups1/restart_driver',
        'sensor/nut_ups1/battery_charge',
        'sensor/nut_ups1/battery_runtime',
        'sensor/nut_ups1/battery_voltage',
        'sensor/nut_ups1/data_age',
        'sensor/nut_ups1/energy',
        'sensor/nut_ups1/hang_episodes_24h',
        'sensor/nut_ups1/input_voltage',
        'sensor/nut_ups1/last_outage_duration',
        'sensor/nut_ups1/last_outage_end',
        'sensor/nut_ups1/last_outage_energy',
        'sensor/nut_ups1/last_outage_start',
        'sensor/nut_ups1/last_restart',
        'sensor/nut_ups1/last_restart_reason',
        'sensor/nut_ups1/load',
        'sensor/nut_ups1/longest_outage',
        'sensor/nut_ups1/outages_24h',
        'sensor/nut_ups1/outages_30d',
        'sensor/nut_ups1/output_voltage',
        'sensor/nut_ups1/power',
        'sensor/nut_ups1/restart_count',
        'sensor/nut_ups1/spin_episodes_24h',
        'sensor/nut_ups1/stale_episodes_24h',
        'sensor/nut_ups1/status',
        'sensor/nut_ups1/supervisor_state',
        'sensor/nut_ups1/time_on_battery',
        'sensor/nut_ups1/time_on_battery_24h',
        'sensor/nut_ups1/time_on_battery_30d',
      ]
        .map((t) => `${HA}/${t}/config`)
        .sort(),
    );

    const device = {
      identifiers: ['nut-mqtt/nut/ups1'],
      name: 'Server rack',
      manufacturer: 'CPS',
      model: 'CP1500PFCLCD',
      serial_number: 'CTHGN000001',
      via_device: 'nut-mqtt/nut/bridge',
    };
    const origin = { name: 'nut-mqtt', sw_version: VERSION };
    const upsAvailability = [{ topic: 'nut/bridge/state' }, { topic: 'nut/ups1/availability' }];
    const bridgeAvailability = [{ topic: 'nut/bridge/state' }];

    const charge = config('sensor', 'nut_ups1', 'battery_charge');
    expect(charge).toEqual({
      unique_id: 'nut-mqtt/nut/ups1/battery_charge',
      name: 'Battery charge',
      default_entity_id: 'sensor.ups1_battery_charge',
      origin,
      device,
      availability: upsAvailability,
      availability_mode: 'all',
      device_class: 'battery',
      state_topic: 'nut/ups1',
      value_template:
        "{{ value_json['battery.charge'] if value_json['battery.charge'] is number else None }}",
      unit_of_measurement: '%',
      state_class: 'measurement',
    });
    expect(charge).not.toHaveProperty('object_id');

    const sensors: Array<[string, string | undefined, string, string]> = [
      ['battery_runtime', 'duration', 's', 'battery.runtime'],
      ['battery_voltage', 'voltage', 'V', 'battery.voltage'],
      ['input_voltage', 'voltage', 'V', 'input.voltage'],
      ['output_voltage', 'voltage', 'V', 'output.voltage'],
      ['load', undefined, '%', 'ups.load'],
    ];
    for (const [object, deviceClass, unit, variable] of sensors) {
      const c = config('sensor', 'nut_ups1', object);
      expect(c.unique_id).toBe(`nut-mqtt/nut/ups1/${object}`);
      expect(c.default_entity_id).toBe(`sensor.ups1_${object}`);
      expect(c.device_class).toBe(deviceClass);
      expect(c.unit_of_measurement).toBe(unit);
      expect(c.state_class).toBe('measurement');
      expect(c.state_topic).toBe('nut/ups1');
      const value = `value_json['${variable}']`;
      expect(c.value_template).toBe(`{{ ${value} if ${value} is number else None }}`);
      expect(c.availability).toEqual(upsAvailability);
      expect(c.availability_mode).toBe('all');
      expect(c.device).toEqual(device);
    }
    const status = config('sensor', 'nut_ups1', 'status');
    expect(status).toMatchObject({
      value_template: '{{ value_json.status_label }}',
      state_topic: 'nut/ups1',
    });
    expect(status).not.toHaveProperty('unit_of_measurement');

    const binary: Array<[string, string, string | undefined]> = [
      ['mains_power', 'power', undefined],
      ['low_battery', 'battery', undefined],
      ['replace_battery', 'problem', undefined],
      ['driver_problem', 'problem', 'diagnostic'],
    ];
    for (const [object, deviceClass, category] of binary) {
      const c = config('binary_sensor', 'nut_ups1', object);
      expect(c.unique_id).toBe(`nut-mqtt/nut/ups1/${object}`);
      expect(c.default_entity_id).toBe(`binary_sensor.ups1_${object}`);
      expect(c.device_class).toBe(deviceClass);
      expect(c.entity_category).toBe(category);
      expect(c).toMatchObject({ payload_on: 'ON', payload_off: 'OFF', state_topic: 'nut/ups1' });
      // The driver-problem sensor must stay readable while the UPS is offline.
      expect(c.availability).toEqual(object === 'driver_problem' ? bridgeAvailability : upsAvailability);
    }

    // The supervisor's diagnostics: all readable while the UPS is offline.
    const diagnostics: Record<string, Record<string, unknown>> = {
      supervisor_state: {
        device_class: 'enum',
        options: ['starting', 'ok', 'suspect', 'recovering', 'backoff', 'failed', 'stopped'],
      },
      restart_count: { state_class: 'total_increasing' },
      last_restart: {
        device_class: 'timestamp',
        value_template: '{{ value_json.supervisor.last_restart_at }}',
      },
      last_restart_reason: { device_class: 'enum' },
      data_age: { device_class: 'duration', unit_of_measurement: 's' },
    };
    for (const [object, fields] of Object.entries(diagnostics)) {
      expect(config('sensor', 'nut_ups1', object), object).toMatchObject({
        ...fields,
        entity_category: 'diagnostic',
        availability: bridgeAvailability,
      });
    }
    expect(config('button', 'nut_ups1', 'restart_driver')).toMatchObject({
      unique_id: 'nut-mqtt/nut/ups1/restart_driver',
      device_class: 'restart',
      entity_category: 'config',
      command_topic: 'nut/ups1/command',
      payload_press: 'restart',
      availability: bridgeAvailability,
    });

    // The second UPS reports frequency, real and apparent power and temperature: those sensors exist there only.
    const extra: Array<[string, string, string]> = [
      ['input_frequency', 'frequency', 'Hz'],
      ['real_power', 'power', 'W'],
      ['apparent_power', 'apparent_power', 'VA'],
      ['temperature', 'temperature', '°C'],
    ];
    for (const [object, deviceClass, unit] of extra) {
      expect(config('sensor', 'nut_ups2', object)).toMatchObject({
        unique_id: `nut-mqtt/nut/ups2/${object}`,
        device_class: deviceClass,
        unit_of_measurement: unit,
      });
      expect(retained.has(`${HA}/sensor/nut_ups1/${object}/config`)).toBe(false);
    }
    // No description in ups.conf: the UPS name is the device name.
    expect(config('sensor', 'nut_ups2', 'battery_charge').device).toMatchObject({
      name: 'ups2',
      serial_number: 'CTHGN000002',
    });

    // The agent's own device: restart upsd and the connection state.
    const upsd = config('button', 'nut_bridge', 'restart_upsd');
    expect(upsd).toMatchObject({
      unique_id: 'nut-mqtt/nut/bridge/restart_upsd',
      device_class: 'restart',
      command_topic: 'nut/bridge/command',
      payload_press: 'restart-upsd',
      availability: bridgeAvailability,
      device: { identifiers: ['nut-mqtt/nut/bridge'], manufacturer: 'nut-mqtt', sw_version: VERSION },
    });
    expect(upsd.default_entity_id).toMatch(/^button\.[a-z0-9_]+_restart_upsd$/);
    expect(config('binary_sensor', 'nut_bridge', 'connection_state')).toMatchObject({
      device_class: 'connectivity',
      state_topic: 'nut/bridge/state',
      payload_on: 'online',
      payload_off: 'offline',
    });

    // Unique ids are unique, and every config is one of this agent's.
    const ids = [...retained.values()].map((t) => (JSON.parse(t) as { unique_id: string }).unique_id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^nut-mqtt\/nut\/(ups1|ups2|bridge)\/[a-z0-9_]+$/);
  });

  it('restarts a driver on a restart command from mosquitto_pub, answering with the transaction', async () => {
    const since = obs.mark();
    const busMark = agent.mark();
    const before = agent.driverPid('ups1') as number;
    await execa(
      'mosquitto_pub',
      [
        ...['-h', '127.0.0.1', '-p', String(broker.port), '-q', '1', '-t', 'nut/ups1/command'],
        ...['-m', JSON.stringify({ command: 'restart', transaction: 'cli-42' })],
      ],
      { stdin: 'ignore' },
    );
    const response = await obs.waitFor('nut/ups1/command/response', undefined, { since, timeoutMs: 40_000 });
    expect(json(response)).toMatchObject({ status: 'ok', command: 'restart', transaction: 'cli-42' });
    expect(json(response).duration_ms).toEqual(expect.any(Number));
    const recovered = await obs.waitFor('nut/ups1/event', (m) => json(m).type === 'recovered', { since });
    expect(json(recovered)).toMatchObject({ ups: 'ups1', reason: 'manual', attempt: 1 });
    expect(json(recovered).duration_ms).toEqual(expect.any(Number));
    expect(Date.parse(String(json(recovered).at))).not.toBeNaN();

    const after = agent.driverPid('ups1');
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    expect(processAlive(before)).toBe(false);
    expect(agent.eventsOf('recovering', (e) => e.ups === 'ups1', busMark)).toHaveLength(1);
    // The story on the event topic, and the state afterwards.
    const types = obs.on('nut/ups1/event', since).map((m) => json(m).type);
    expect(types).toEqual(
      expect.arrayContaining(['recovering', 'driver-exited', 'driver-started', 'recovered']),
    );
    const state = await obs.waitFor('nut/ups1', (m) => {
      const s = json(m).supervisor as { state: string; restarts: number };
      return s.state === 'ok' && s.restarts >= 1;
    });
    expect(json(state).supervisor).toMatchObject({ last_restart_reason: 'manual' });
    expect(obs.latest('nut/ups1/availability')?.text).toBe('online');
    // Within the cooldown a second restart is refused.
    const again = obs.mark();
    await obs.publish('nut/ups1/command', JSON.stringify({ command: 'restart', transaction: 7 }));
    const refused = await obs.waitFor('nut/ups1/command/response', undefined, { since: again });
    expect(json(refused)).toMatchObject({ status: 'error', error: 'cooldown', transaction: 7 });
    expect(agent.eventsOf('recovering', (e) => e.ups === 'ups1', busMark)).toHaveLength(1);
  });

  it('turns a flood of 1,000 restart commands into exactly one restart, with one answer each', async () => {
    const since = obs.mark();
    const busMark = agent.mark();
    const before = agent.driverPid('ups2');
    const sends: Array<Promise<void>> = [];
    for (let i = 0; i < 1000; i++) {
      sends.push(obs.publish('nut/ups2/command', JSON.stringify({ command: 'restart', transaction: i })));
    }
    await Promise.all(sends);
    await obs.waitFor('nut/ups2/event', (m) => json(m).type === 'recovered', { since, timeoutMs: 40_000 });
    const deadline = Date.now() + 30_000;
    while (obs.on('nut/ups2/command/response', since).length < 1000 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const responses = obs.on('nut/ups2/command/response', since).map((m) => json(m));
    expect(responses).toHaveLength(1000);
    expect(new Set(responses.map((r) => r.transaction)).size).toBe(1000);
    for (const r of responses) {
      if (r.status === 'ok') expect(r).toMatchObject({ command: 'restart' });
      else expect(r).toMatchObject({ status: 'error', error: 'cooldown' });
    }
    expect(responses.filter((r) => r.status === 'ok').length).toBeGreaterThanOrEqual(1);

    expect(agent.eventsOf('recovering', (e) => e.ups === 'ups2', busMark)).toHaveLength(1);
    expect(agent.eventsOf('driver-started', (e) => e.ups === 'ups2', busMark)).toHaveLength(1);
    expect(agent.driverPid('ups2')).not.toBe(before);
    // The other UPS was never touched.
    expect(agent.eventsOf('recovering', (e) => e.ups === 'ups1', busMark)).toEqual([]);
  });

  it('answers junk on the command topics with errors, and restarts nothing', async () => {
    const busMark = agent.mark();
    const pids = { ups1: agent.driverPid('ups1'), ups2: agent.driverPid('ups2') };
    const upsdPid = agent.controller.supervisor.upsdPid;
    // dummy-ups lists load.off; the agent does not allow it.
    await waitFor('the command list of ups1', () =>
      agent.controller.supervisor.ups('ups1')?.snapshot().commands.includes('load.off') ? true : undefined,
    );
    const cases: Array<[string, string | Buffer, Record<string, unknown>]> = [
      ['nut/ups1/command', '{"command": "restart"', { error: 'malformed-json' }],
      ['nut/ups1/command', Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3]), { error: 'invalid-utf8' }],
      ['nut/ups1/command', 'x'.repeat(5000), { error: 'payload-too-large' }],
      [
        'nut/ups1/command',
        JSON.stringify({ command: 'restart', padding: 'x'.repeat(2000) }),
        { error: 'payload-too-large' },
      ],
      ['nut/ups1/command', 'self.destruct', { error: 'unknown-command', command: 'self.destruct' }],
      ['nut/ups1/command', 'beeper.disable\nINSTCMD ups1 load.off', { error: 'invalid-command-name' }],
      ['nut/ups1/command', 'restart; reboot', { error: 'invalid-command-name' }],
      [
        'nut/ups1/command',
        '{"command":"load.off","transaction":"t-load"}',
        { error: 'instcmd-not-allowed', command: 'load.off', transaction: 't-load' },
      ],
      [
        'nut/ups1/command',
        '{"command":["restart"],"transaction":"t-arr"}',
        { error: 'invalid-command-type', transaction: 't-arr' },
      ],
      ['nut/ups1/command', '{"transaction":"t-none"}', { error: 'missing-command', transaction: 't-none' }],
      ['nut/ups1/command', '[1,2,3]', { error: 'json-not-object' }],
      ['nut/ups1/command', '{"a":{"b":{"c":{"d":1}}},"command":"restart"}', { error: 'json-too-deep' }],
      ['nut/ups1/command', '{"command":"restart","transaction":{"x":1}}', { error: 'invalid-transaction' }],
      ['nut/ups1/command', '   ', { error: 'empty-payload' }],
      ['nut/nope/command', 'restart', { error: 'unknown-ups', command: 'restart' }],
      ['nut/bridge/command', 'restart', { error: 'unknown-command', command: 'restart' }],
      ['nut/bridge/command', 'Restart-UPSD', { error: 'invalid-command-name' }],
    ];
    for (const [topic, payload, expected] of cases) {
      const since = obs.mark();
      await obs.publish(topic, payload);
      const response = await obs.waitFor(`${topic}/response`, undefined, { since });
      expect(json(response), `${topic} ${String(payload).slice(0, 60)}`).toMatchObject({
        status: 'error',
        ...expected,
      });
      // A refused name is never echoed back.
      if (expected.command === undefined) expect(json(response)).not.toHaveProperty('command');
    }
    expect(agent.eventsOf('recovering', undefined, busMark)).toEqual([]);
    expect(agent.eventsOf('upsd-started', undefined, busMark)).toEqual([]);
    expect(agent.driverPid('ups1')).toBe(pids.ups1);
    expect(agent.driverPid('ups2')).toBe(pids.ups2);
    expect(agent.controller.supervisor.upsdPid).toBe(upsdPid);
    // The warnings are in the log, rate-limited.
    const log = readFileSync(agent.logFile, 'utf8');
    expect(log).toMatch(/refused MQTT command on nut\/ups1\/command: malformed-json/);
    expect(obs.latest('nut/bridge/state')?.text).toBe('online');
  });

  it('republishes discovery and state when Home Assistant announces itself online', async () => {
    const retained = await retainedOn(broker, [`${HA}/+/+/+/config`]);
    const since = obs.mark();
    await obs.publish('homeassistant/status', 'online');
    // Every config again (a short random delay first), and the state of each UPS.
    for (const topic of retained.keys()) await obs.waitFor(topic, (m) => m.text.length > 0, { since });
    await obs.waitFor('nut/ups1', undefined, { since });
    await obs.waitFor('nut/ups2', undefined, { since });
    const republished = new Map(
      obs.messages
        .slice(since)
        .filter((m) => retained.has(m.topic))
        .map((m) => [m.topic, m.text]),
    );
    expect(republished).toEqual(retained);
  });
});
