// Power and energy for Home Assistant's energy dashboard, end to end: a real dummy-ups UPS whose ups.load the test
// changes (.dev rewrites), the agent in-process with a real Mosquitto, and the agent restarted in the middle. The
// expected energy is the integral of the power the agent saw, from the sample times of its own `ups-updated` events.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { powerOf } from '../../src/energy/powerSource.js';
import { type AgentUnderTest, startAgent } from '../fixtures/agent.js';
import { type MqttAgent, startMqttAgent } from '../fixtures/mqttAgent.js';
import { json, type Received, retainedOn } from '../fixtures/mqttObserver.js';
import { sleep } from '../fixtures/nutLab.js';
import { ON_NUT } from '../fixtures/nutVersion.js';

const UPS = 'pwr';
const NOMINAL_W = 1000;
/** The test default: the agent samples every 500 ms, and a gap of 2.5 s (a very busy machine) still counts. */
const TIMINGS = { pollInterval: 500 };
/** How long each load level is held inside a measured window. */
const HOLD_MS = 9000;
const HA_TOPIC =
  /^homeassistant\/(?<component>\w+)\/(?:(?<node>[a-zA-Z0-9_-]+)\/)?(?<object>[a-zA-Z0-9_-]+)\/config$/;

interface Window {
  expectedWs: number;
  measuredKwh: number;
}

describe(`power and energy of a dummy-ups UPS whose load changes, ${ON_NUT}`, () => {
  let setup: MqttAgent | undefined;
  afterAll(() => setup?.stop());

  it('publishes power, integrates energy within 1 % of the expected integral, survives a restart, validates as HA discovery', async () => {
    setup = await startMqttAgent({
      upses: [
        {
          name: UPS,
          dev: {
            'device.mfr': 'Lab',
            'device.model': 'Load bank',
            'ups.status': 'OL',
            'battery.charge': 100,
            'ups.load': 30,
            'ups.realpower.nominal': NOMINAL_W,
          },
          options: { pollinterval: '1' },
        },
      ],
      timings: TIMINGS,
    });
    const { lab, broker, obs, cleanup } = setup;
    const stateTopic = `nut/${UPS}`;
    const powerMessage = (watts: number, since: number) =>
      obs.waitFor(stateTopic, (m) => json(m).power_w === watts, { since, timeoutMs: 20_000 });

    /**
     * Holds `loads` one after the other (each HOLD_MS from the moment the agent published it) and returns the energy
     * the agent counted from the first level's state message to the last one's, and the integral of the power it saw
     * over that time: a step function from its `ups-updated` events (sample time `at`, power of those variables).
     */
    const measure = async (agent: AgentUnderTest, loads: number[]): Promise<Window> => {
      // The window starts once the agent has fresh data (only fresh data is integrated) and has sampled it a while.
      const ok = await agent.waitForEvent('state-changed', (e) => e.ups === UPS && e.to === 'ok');
      await sleep(1000);
      const marks: Array<{ message: Received; watts: number }> = [];
      const busMark = agent.mark();
      for (const [i, load] of loads.entries()) {
        const since = obs.mark();
        await lab.writeDev(UPS, { 'ups.load': load });
        const watts = (load / 100) * NOMINAL_W;
        marks.push({ message: await powerMessage(watts, since), watts });
        if (i < loads.length - 1) await sleep(HOLD_MS);
      }
      const updates = agent
        .eventsOf('ups-updated', (e) => e.snapshot.name === UPS, busMark)
        .map((e) => ({ at: e.at, watts: powerOf(e.snapshot.vars, 0)?.watts }));
      // The sample at which the agent first saw each level: the window runs from the first to the last.
      let from = 0;
      const seenAt = marks.map(({ watts }) => {
        const index = updates.findIndex((u, i) => i >= from && u.watts === watts);
        const update = updates[index];
        if (!update) throw new Error(`no ups-updated with ${watts} W`);
        from = index + 1;
        return update.at;
      });
      const start = seenAt[0] as number;
      const end = seenAt[seenAt.length - 1] as number;
      let expectedWs = 0;
      let current = { at: start, watts: marks[0]?.watts ?? 0 };
      for (const u of updates.filter((x) => x.at > start && x.at <= end && x.watts !== undefined)) {
        expectedWs += (current.watts * (u.at - current.at)) / 1000;
        current = { at: u.at, watts: u.watts as number };
      }
      expect(ok.at).toBeLessThan(start);
      expect(agent.eventsOf('state-changed', (e) => e.ups === UPS && e.from === 'ok', busMark)).toEqual([]);
      const kwh = (m: Received) => json(m).energy_kwh as number;
      const first = marks[0]?.message as Received;
      const last = marks[marks.length - 1]?.message as Received;
      return { expectedWs, measuredKwh: kwh(last) - kwh(first) };
    };

    // Run 1: the agent from the fixture. The state carries power, its source and the energy total.
    await powerMessage(300, 0);
    const state = json(obs.latest(stateTopic));
    expect(state).toMatchObject({ power_w: 300, power_source: 'ups.load*ups.realpower.nominal' });
    expect(typeof state.energy_kwh).toBe('number');
    const run1 = await measure(setup.agent, [50, 60, 50]);

    // Home Assistant discovery: power and energy as the energy dashboard needs them.
    const retained = await retainedOn(broker, ['homeassistant/#']);
    const config = (object: string) => {
      const topic = `homeassistant/sensor/nut_${UPS}/${object}/config`;
      expect(topic).toMatch(HA_TOPIC);
      return JSON.parse(retained.get(topic) ?? 'null') as Record<string, unknown> | null;
    };
    const power = config('power');
    const energy = config('energy');
    expect(power).toMatchObject({
      device_class: 'power',
      unit_of_measurement: 'W',
      state_class: 'measurement',
      state_topic: stateTopic,
      value_template: '{{ value_json.power_w }}',
      json_attributes_topic: stateTopic,
      unique_id: `nut-mqtt/nut/${UPS}/power`,
      default_entity_id: `sensor.${UPS}_power`,
    });
    expect(energy).toMatchObject({
      device_class: 'energy',
      unit_of_measurement: 'kWh',
      state_class: 'total_increasing',
      state_topic: stateTopic,
      value_template: '{{ value_json.energy_kwh }}',
      unique_id: `nut-mqtt/nut/${UPS}/energy`,
      default_entity_id: `sensor.${UPS}_energy`,
    });
    expect(power?.device).toEqual(energy?.device);

    // Restart: the total is on disk when the agent has stopped, and the new agent continues it.
    await setup.agent.stop();
    const file = JSON.parse(await readFile(join(lab.dir, 'data', 'energy.json'), 'utf8')) as {
      ups: Record<string, { kwh: number; last?: { at: number; watts: number } }>;
    };
    const stored = file.ups[UPS]?.kwh ?? 0;
    const lastBefore = json(obs.latest(stateTopic)).energy_kwh as number;
    expect(stored).toBeGreaterThanOrEqual(lastBefore - 1e-6);
    const sinceRestart = obs.mark();
    const agent2 = await startAgent(lab, { timings: TIMINGS, env: { MQTT_URL: broker.url } });
    cleanup.add('second agent', () => agent2.stop());
    const resumed = await obs.waitFor(
      stateTopic,
      (m) => !m.retain && typeof json(m).energy_kwh === 'number',
      { since: sinceRestart, timeoutMs: 30_000 },
    );
    // No reset: the first total after the restart starts where the file left off (the downtime adds nothing).
    expect(json(resumed).energy_kwh).toBeGreaterThanOrEqual(Math.round(stored * 1e6) / 1e6);
    expect(json(resumed).energy_kwh as number).toBeLessThan(stored + 0.0005);
    const run2 = await measure(agent2, [40, 30, 40]);

    // The total never went down, over both agents.
    const totals = obs
      .on(stateTopic)
      .filter((m) => m.text.length > 0)
      .map((m) => json(m).energy_kwh)
      .filter((v): v is number => typeof v === 'number');
    for (let i = 1; i < totals.length; i += 1)
      expect(totals[i]).toBeGreaterThanOrEqual(totals[i - 1] as number);

    const expectedKwh = (run1.expectedWs + run2.expectedWs) / 3.6e6;
    const measuredKwh = run1.measuredKwh + run2.measuredKwh;
    const errorPct = (Math.abs(measuredKwh - expectedKwh) / expectedKwh) * 100;
    console.log(
      `energy: expected ${expectedKwh.toFixed(6)} kWh, measured ${measuredKwh.toFixed(6)} kWh, error ${errorPct.toFixed(3)} % ` +
        `(run 1: ${(run1.expectedWs / 3.6e6).toFixed(6)} vs ${run1.measuredKwh.toFixed(6)}, ` +
        `run 2: ${(run2.expectedWs / 3.6e6).toFixed(6)} vs ${run2.measuredKwh.toFixed(6)}); stored at restart ${stored.toFixed(6)} kWh`,
    );
    expect(errorPct).toBeLessThan(1);
  }, 180_000);
});
