// Battery self-tests on the real usbhid-ups driving a simulated CyberPower CP1500PFCLCD (test/fixtures/usbSim): the
// start command reaches the device as a SET_REPORT of UPS.Output.Test, and the test is followed through
// ups.test.result (In progress, then Done and passed / Done and error) as NUT's own HID tables word it. A failed
// test makes the battery need attention. (NUT's CyberPower HID subdriver maps no NeedReplacement, so these UPSes
// never report RB: the RB reason is tested on dummy-ups, in outages.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoveryProblems, retainedDiscovery } from '../fixtures/haDiscovery.js';
import type { Broker } from '../fixtures/mosquitto.js';
import { type MqttAgent, startMqttAgent } from '../fixtures/mqttAgent.js';
import { json, type Observer } from '../fixtures/mqttObserver.js';
import { waitFor } from '../fixtures/nutLab.js';
import { ON_NUT } from '../fixtures/nutVersion.js';
import type { SimulatedUsbUps } from '../fixtures/usbSim/usbUps.js';

const eventOf = (obs: Observer, type: string, since: number) =>
  obs.waitFor('nut/cp/event', (m) => json(m).type === type, { since, timeoutMs: 60_000 });
const historyWhere = (obs: Observer, pred: (h: Record<string, unknown>) => boolean, since: number) =>
  obs.waitFor('nut/cp/history', (m) => m.text !== '' && pred(json(m)), { since, timeoutMs: 30_000 });

describe(`battery self-tests on usbhid-ups (a simulated CyberPower USB UPS), ${ON_NUT}`, () => {
  let setup: MqttAgent | undefined;
  let obs: Observer;
  let broker: Broker;
  let ups: SimulatedUsbUps;

  beforeAll(async () => {
    setup = await startMqttAgent({
      upses: [
        {
          name: 'cp',
          usb: { testDurationMs: 4000 },
          // pollfreq: ups.test.result is read with the full update (30 s by default), not the quick poll.
          options: { vendorid: '0764', productid: '0501', pollinterval: '2', pollfreq: '5' },
        },
      ],
      env: (nut) => ({
        MQTT_INSTCMD_ALLOW: 'test.battery.start.quick,test.battery.start.deep',
        NUT_USERNAME: nut.adminUser.username,
        NUT_PASSWORD: nut.adminUser.password,
      }),
    });
    ({ obs, broker } = setup);
    ups = setup.lab.usbUps('cp');
    await setup.agent.waitForEvent('ready', (e) => e.ups === 'cp', { timeoutMs: 45_000 });
    await obs.waitFor('homeassistant/sensor/nut_cp/self_test_result/config', (m) => m.text !== '', {
      timeoutMs: 30_000,
    });
  }, 120_000);
  afterAll(() => setup?.stop());

  it('a quick test: UPS.Output.Test set on the device, In progress, Done and passed', async () => {
    const since = obs.mark();
    await obs.publish('nut/cp/command', JSON.stringify({ command: 'self-test', type: 'quick' }));
    const response = json(
      await obs.waitFor('nut/cp/command/response', undefined, { since, timeoutMs: 30_000 }),
    );
    expect(response).toMatchObject({ status: 'ok', command: 'self-test' });
    // The driver's SET_REPORT reaches the simulated device's state a poll of the bus later (50 ms).
    await waitFor(
      'the SET_REPORT on the device',
      async () => (ups.setReports.length > 0 ? true : undefined),
      {
        timeoutMs: 5000,
      },
    );
    const result = json(await eventOf(obs, 'self-test', since));
    expect(result).toMatchObject({ ups: 'cp', test: 'quick', result: 'passed', detail: 'Done and passed' });
    const state = await historyWhere(
      obs,
      (h) => h.self_test_result === 'passed' && h.self_test_detail === 'Done and passed',
      since,
    );
    console.log(
      `self-test sample (usbhid-ups): retained nut/cp/history = ${state.text}\nevents: ${obs
        .on('nut/cp/event', since)
        .map((m) => m.text)
        .join('\n        ')}`,
    );
  }, 120_000);

  it('a deep test that ends in error: the battery needs attention, and says why', async () => {
    ups.options.testResult = 3;
    const since = obs.mark();
    await obs.publish('nut/cp/command', 'test.battery.start.deep');
    expect(
      json(await obs.waitFor('nut/cp/command/response', undefined, { since, timeoutMs: 30_000 })),
    ).toMatchObject({
      status: 'ok',
    });
    const result = json(await eventOf(obs, 'self-test', since));
    expect(result).toMatchObject({ test: 'deep', result: 'failed', detail: 'Done and error' });
    const state = json(await historyWhere(obs, (h) => h.battery_attention === true, since));
    expect(state).toMatchObject({
      self_test_result: 'failed',
      self_test_detail: 'Done and error',
      battery_attention_reasons: ['self-test-failed'],
    });
    expect(state.battery_attention_text).toMatch(/^The last self-test failed \(.*: Done and error\)$/);
    const configs = await retainedDiscovery(broker, ['homeassistant/+/nut_cp/+/config']);
    expect(configs.map((c) => c.topic.split('/')[3])).toEqual(
      expect.arrayContaining(['battery_attention', 'self_test_result', 'instcmd_test_battery_start_quick']),
    );
    expect(configs.flatMap(discoveryProblems)).toEqual([]);
  }, 120_000);
});
