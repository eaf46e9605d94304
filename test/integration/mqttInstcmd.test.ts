// Instant commands from MQTT, end to end: MQTT → agent → upsd (authenticated) → blazer_ser → a simulated
// Megatec/Q1 UPS that records what reaches it. dummy-ups implements no instant command, so this is the driver.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentUnderTest } from '../fixtures/agent.js';
import type { Broker } from '../fixtures/mosquitto.js';
import { type MqttAgent, startMqttAgent } from '../fixtures/mqttAgent.js';
import { json, type Observer, retainedOn } from '../fixtures/mqttObserver.js';
import { sleep } from '../fixtures/nutLab.js';
import { ON_NUT } from '../fixtures/nutVersion.js';
import type { Q1Simulator } from '../fixtures/q1Simulator.js';

describe(`instant commands over MQTT on a blazer_ser UPS, ${ON_NUT}`, () => {
  let setup: MqttAgent | undefined;
  let sim: Q1Simulator;
  let broker: Broker;
  let agent: AgentUnderTest;
  let obs: Observer;

  beforeAll(async () => {
    setup = await startMqttAgent({
      upses: [],
      q1Ups: 'q1',
      env: (nut) => ({
        INSTCMD_ALLOW: 'beeper.toggle,shutdown.return',
        NUT_USERNAME: nut.adminUser.username,
        NUT_PASSWORD: nut.adminUser.password,
      }),
    });
    ({ broker, agent, obs } = setup);
    sim = setup.sim as Q1Simulator;
    await agent.waitForEvent('ready', (e) => e.ups === 'q1', { timeoutMs: 30_000 });
    // The button appears once upsd has listed the UPS's commands.
    await obs.waitFor('homeassistant/button/nut_q1/instcmd_beeper_toggle/config', (m) => m.text !== '', {
      timeoutMs: 30_000,
    });
  });

  afterAll(() => setup?.stop());

  it('offers a button for each allowed command the UPS lists, and none for the others', async () => {
    const retained = await retainedOn(broker, ['homeassistant/button/nut_q1/+/config']);
    const buttons = [...retained.keys()].map((t) => t.split('/')[3]).sort();
    // shutdown.return is allowed and listed too; test.battery.start.quick is listed but not allowed.
    expect(buttons).toEqual(['instcmd_beeper_toggle', 'instcmd_shutdown_return', 'restart_driver']);
    const toggle = JSON.parse(
      retained.get('homeassistant/button/nut_q1/instcmd_beeper_toggle/config') ?? '{}',
    ) as Record<string, unknown>;
    expect(toggle).toMatchObject({
      unique_id: 'nut-mqtt/nut/q1/instcmd_beeper_toggle',
      name: 'Toggle beeper',
      command_topic: 'nut/q1/command',
      payload_press: 'beeper.toggle',
      availability: [{ topic: 'nut/bridge/state' }, { topic: 'nut/q1/availability' }],
      availability_mode: 'all',
    });
    expect(agent.controller.supervisor.ups('q1')?.snapshot().commands).toContain('test.battery.start.quick');
  });

  it('runs an allowed instant command on the UPS and answers ok once the driver reports SUCCESS', async () => {
    const pid = agent.driverPid('q1');
    const busMark = agent.mark();
    const since = obs.mark();
    await obs.publish('nut/q1/command', JSON.stringify({ command: 'beeper.toggle', transaction: 'beep-1' }));
    const response = await obs.waitFor('nut/q1/command/response', undefined, { since });
    expect(json(response)).toMatchObject({ status: 'ok', command: 'beeper.toggle', transaction: 'beep-1' });
    // TRACKING: the answer came after the driver ran the command, so the UPS has it already.
    expect(sim.commands).toEqual(['Q']);
    // NUT 2.8.1 drivers crash on an INSTCMD without TRACKING: the driver must be the same process.
    expect(agent.driverPid('q1')).toBe(pid);
    expect(agent.eventsOf('driver-exited', undefined, busMark)).toEqual([]);
  });

  it("answers instcmd-failed with NUT's word when the UPS refuses the command (TRACKING: ERR FAILED)", async () => {
    const pid = agent.driverPid('q1');
    sim.setRejectCommands(true);
    try {
      const since = obs.mark();
      await obs.publish(
        'nut/q1/command',
        JSON.stringify({ command: 'beeper.toggle', transaction: 'beep-2' }),
      );
      const response = await obs.waitFor('nut/q1/command/response', undefined, { since });
      expect(json(response)).toMatchObject({
        status: 'error',
        error: 'instcmd-failed',
        detail: 'FAILED',
        command: 'beeper.toggle',
        transaction: 'beep-2',
      });
      expect(sim.commands).toEqual(['Q', 'Q']);
      expect(agent.driverPid('q1')).toBe(pid);
    } finally {
      sim.setRejectCommands(false);
    }
  });

  it('refuses a listed but not allowed command, and junk, and nothing reaches the UPS', async () => {
    const busMark = agent.mark();
    const pid = agent.driverPid('q1');
    const before = [...sim.commands];
    expect(before).toEqual(['Q', 'Q']);
    const cases: Array<[string | Buffer, Record<string, unknown>]> = [
      ['test.battery.start.quick', { error: 'instcmd-not-allowed', command: 'test.battery.start.quick' }],
      [
        JSON.stringify({ command: 'load.off', transaction: 'x' }),
        { error: 'instcmd-not-allowed', transaction: 'x' },
      ],
      ['beeper.disable\nINSTCMD q1 load.off', { error: 'invalid-command-name' }],
      ['beeper.toggle\r\nINSTCMD q1 load.off', { error: 'invalid-command-name' }],
      ['beeper.toggle load.off', { error: 'invalid-command-name' }],
      ['"beeper.toggle"', { error: 'invalid-command-name' }],
      ['{"command":"beeper.toggle\\nINSTCMD q1 load.off"}', { error: 'invalid-command-name' }],
      ['{"command":"beeper.toggle",', { error: 'malformed-json' }],
      [Buffer.from([0xc0, 0xaf, 0xff, 0x00]), { error: 'invalid-utf8' }],
      [`beeper.toggle${' '.repeat(4096)}x`, { error: 'payload-too-large' }],
      ['beeper.enable', { error: 'unknown-command', command: 'beeper.enable' }],
    ];
    for (const [payload, expected] of cases) {
      const since = obs.mark();
      await obs.publish('nut/q1/command', payload);
      const response = await obs.waitFor('nut/q1/command/response', undefined, { since });
      expect(json(response), String(payload).slice(0, 60)).toMatchObject({ status: 'error', ...expected });
    }
    // Give anything that might have slipped through time to arrive.
    await sleep(2000);
    expect(sim.commands).toEqual(before);
    expect(agent.eventsOf('recovering', undefined, busMark)).toEqual([]);
    expect(agent.driverPid('q1')).toBe(pid);
  });
});
