// Battery self-tests end to end on a real blazer_ser driver and a simulated Megatec/Q1 UPS that runs the test (status
// bit 5 while it runs, bit 3 when it failed): MQTT `self-test` and the Home Assistant button → upsd (TRACKING) →
// blazer_ser → `T`/`TL` on the serial line; the test followed to its result; battery care; the schedule. A dummy-ups
// neighbour has no test command and says so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentUnderTest } from '../fixtures/agent.js';
import { discoveryProblems, retainedDiscovery } from '../fixtures/haDiscovery.js';
import type { Broker } from '../fixtures/mosquitto.js';
import { type MqttAgent, startMqttAgent } from '../fixtures/mqttAgent.js';
import { json, type Observer, retainedOn } from '../fixtures/mqttObserver.js';
import { ON_NUT } from '../fixtures/nutVersion.js';
import type { Q1Simulator } from '../fixtures/q1Simulator.js';

const ALLOW = 'test.battery.start.quick,test.battery.start.deep';

async function selfTestLab(env: Record<string, string> = {}): Promise<MqttAgent> {
  const setup = await startMqttAgent({
    upses: [{ name: 'dummy' }],
    q1Ups: 'q1',
    env: (nut) => ({
      MQTT_INSTCMD_ALLOW: ALLOW,
      NUT_USERNAME: nut.adminUser.username,
      NUT_PASSWORD: nut.adminUser.password,
      ...env,
    }),
    bridgeTimings: { selfTestCheckIntervalMs: 500 },
  });
  const { agent, obs } = setup;
  for (const ups of ['q1', 'dummy'])
    await agent.waitForEvent('ready', (e) => e.ups === ups, { timeoutMs: 30_000 });
  await obs.waitFor('homeassistant/sensor/nut_q1/self_test_result/config', (m) => m.text !== '', {
    timeoutMs: 30_000,
  });
  return setup;
}

const eventOf = (obs: Observer, type: string, since: number, ups = 'q1') =>
  obs.waitFor(`nut/${ups}/event`, (m) => json(m).type === type, { since, timeoutMs: 60_000 });
const historyWhere = (obs: Observer, pred: (h: Record<string, unknown>) => boolean, since: number) =>
  obs.waitFor('nut/q1/history', (m) => m.text !== '' && pred(json(m)), { since, timeoutMs: 30_000 });
const respond = async (obs: Observer, ups: string, payload: string) => {
  const since = obs.mark();
  await obs.publish(`nut/${ups}/command`, payload);
  return json(await obs.waitFor(`nut/${ups}/command/response`, undefined, { since, timeoutMs: 30_000 }));
};

describe(`battery self-tests on blazer_ser (a simulated Q1 UPS), ${ON_NUT}`, () => {
  let setup: MqttAgent | undefined;
  let sim: Q1Simulator;
  let obs: Observer;
  let broker: Broker;
  let agent: AgentUnderTest;

  beforeAll(async () => {
    setup = await selfTestLab();
    sim = setup.sim as Q1Simulator;
    ({ obs, agent, broker } = setup);
  }, 120_000);
  afterAll(() => setup?.stop());

  it('`self-test` over MQTT: T on the line, TRACKING, then followed (CAL on, CAL off) to a passed result', async () => {
    sim.setTest({ durationMs: 4000, outcome: 'pass' });
    const since = obs.mark();
    const response = await respond(
      obs,
      'q1',
      JSON.stringify({ command: 'self-test', type: 'quick', transaction: 'st-1' }),
    );
    expect(response).toMatchObject({ status: 'ok', command: 'self-test', transaction: 'st-1' });
    // TRACKING: the answer came after the driver ran the command, so the UPS has it already.
    expect(sim.commands).toContain('T');
    expect(json(await eventOf(obs, 'self-test-started', since))).toMatchObject({
      test: 'quick',
      origin: 'command',
    });
    await historyWhere(obs, (h) => h.self_test_running === true, since);
    const result = json(await eventOf(obs, 'self-test', since));
    expect(result).toMatchObject({ ups: 'q1', test: 'quick', result: 'passed', origin: 'command' });
    expect(result.duration_s).toBeGreaterThan(0);
    const state = json(await historyWhere(obs, (h) => h.self_test_result === 'passed', since));
    expect(state).toMatchObject({
      self_test_supported: true,
      self_test_running: false,
      self_test_type: 'quick',
      self_test_at: result.at,
      battery_attention: false,
    });
    // A test on battery is not an outage.
    expect(agent.eventsOf('outage')).toEqual([]);
    console.log(
      `self-test sample: retained nut/q1/history = ${obs.latest('nut/q1/history')?.text}\nevents: ${obs
        .on('nut/q1/event', since)
        .map((m) => m.text)
        .join('\n        ')}`,
    );
  }, 120_000);

  it('the Home Assistant button for a deep test: TL, a failed result, and the battery needs attention, with the reason', async () => {
    sim.setTest({ durationMs: 3000, outcome: 'fail' });
    const since = obs.mark();
    const retained = await retainedOn(broker, ['homeassistant/button/nut_q1/+/config']);
    const button = JSON.parse(
      retained.get('homeassistant/button/nut_q1/instcmd_test_battery_start_deep/config') ?? '{}',
    );
    expect(button).toMatchObject({
      name: 'Start deep battery test',
      payload_press: 'test.battery.start.deep',
    });
    expect(await respond(obs, 'q1', button.payload_press)).toMatchObject({ status: 'ok' });
    expect(sim.commands).toContain('TL');
    const result = json(await eventOf(obs, 'self-test', since));
    expect(result).toMatchObject({ test: 'deep', result: 'failed', detail: 'UPS selftest failed!' });
    const state = json(await historyWhere(obs, (h) => h.battery_attention === true, since));
    expect(state.battery_attention_reasons).toEqual(['self-test-failed']);
    expect(state.battery_attention_text).toMatch(/^The last self-test failed \(.*: UPS selftest failed!\)$/);
    // A passing test clears it.
    sim.setTest({ outcome: 'pass' });
    const again = obs.mark();
    expect(await respond(obs, 'q1', 'self-test')).toMatchObject({ status: 'ok' });
    await historyWhere(obs, (h) => h.self_test_result === 'passed' && h.battery_attention === false, again);
  }, 120_000);

  it('says clearly that a UPS without a test command cannot test, and offers it no button nor sensor', async () => {
    const response = await respond(obs, 'dummy', 'self-test');
    expect(response).toMatchObject({
      status: 'error',
      error: 'instcmd-not-supported',
      detail: 'dummy (driver dummy-ups) lists no test.battery.start.quick: it cannot run a quick self-test',
    });
    const retained = await retainedOn(broker, ['homeassistant/+/nut_dummy/+/config', 'nut/dummy/history']);
    const ids = [...retained.keys()].map((t) => t.split('/')[3]);
    expect(ids.filter((id) => id?.includes('test'))).toEqual([]);
    expect(ids).toContain('outages_24h');
    expect(JSON.parse(retained.get('nut/dummy/history') ?? '{}')).toMatchObject({
      self_test_supported: false,
    });
  });

  it('refuses a test while on battery, and nothing reaches the UPS', async () => {
    sim.setOnBattery(true);
    try {
      await historyWhere(obs, (h) => h.on_battery === true, 0);
      const before = sim.commands.length;
      expect(await respond(obs, 'q1', 'self-test')).toMatchObject({
        error: 'self-test-refused',
        detail: 'the UPS is on battery',
      });
      expect(sim.commands.length).toBe(before);
    } finally {
      sim.setOnBattery(false);
    }
  });

  it('every entity validates, the self-test ones included', async () => {
    const configs = await retainedDiscovery(broker, ['homeassistant/#']);
    expect(configs.map((c) => c.topic)).toContain('homeassistant/sensor/nut_q1/last_self_test/config');
    expect(configs.flatMap(discoveryProblems)).toEqual([]);
  });
});

describe(`the self-test schedule on blazer_ser, ${ON_NUT}`, () => {
  let setup: MqttAgent | undefined;
  afterAll(() => setup?.stop());

  it('waits while on battery, then runs in its window, and counts the next one from it', async () => {
    const now = new Date();
    const at = `${String(now.getHours()).padStart(2, '0')}:${String(now.getMinutes()).padStart(2, '0')}`;
    setup = await startMqttAgent({
      upses: [],
      q1Ups: 'q1',
      env: (nut) => ({
        MQTT_INSTCMD_ALLOW: ALLOW,
        NUT_USERNAME: nut.adminUser.username,
        NUT_PASSWORD: nut.adminUser.password,
        BATTERY_SELF_TEST_DAYS: '30',
        BATTERY_SELF_TEST_AT: at,
      }),
      bridgeTimings: { selfTestCheckIntervalMs: 500 },
      beforeAgent: async ({ sim }) => sim?.setOnBattery(true),
    });
    const { obs } = setup;
    const sim = setup.sim as Q1Simulator;
    sim.setTest({ durationMs: 3000, outcome: 'pass' });
    const deferred = json(await eventOf(obs, 'self-test-deferred', 0));
    expect(deferred).toMatchObject({ ups: 'q1', test: 'quick', reason: 'on-battery' });
    expect(sim.commands.filter((c) => c.startsWith('T'))).toEqual([]);
    sim.setOnBattery(false);
    const started = json(await eventOf(obs, 'self-test-started', 0));
    expect(started).toMatchObject({ test: 'quick', origin: 'schedule' });
    const result = json(await eventOf(obs, 'self-test', 0));
    expect(result).toMatchObject({ result: 'passed', origin: 'schedule' });
    const state = json(await historyWhere(obs, (h) => h.self_test_origin === 'schedule', 0));
    const next = Date.parse(state.next_self_test_at as string);
    const days = (next - Date.parse(result.at as string)) / 86_400_000;
    expect(days).toBeGreaterThan(29);
    expect(days).toBeLessThanOrEqual(31);
    expect(sim.commands.filter((c) => c === 'T')).toHaveLength(1);
  }, 180_000);
});
