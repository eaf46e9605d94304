// Tuning hints end to end: real dummy-ups drivers and upsd started by the agent, a real Mosquitto, the hangs made
// with SIGSTOP. Two hangs of one UPS with HINT_EPISODES_PER_DAY=2 are two hang episodes (not also stale ones), one
// `tuning-hint` event for that UPS on MQTT, a 24 h hang count of 2 in its published state; its neighbour is untouched.
import { afterEach, describe, expect, it } from 'vitest';
import type { UpsEventJson, UpsStateJson } from '../../src/api/payloads.js';
import { Cleanup } from '../fixtures/cleanup.js';
import { type MqttAgent, startMqttAgent } from '../fixtures/mqttAgent.js';
import { json } from '../fixtures/mqttObserver.js';
import { processAlive } from '../fixtures/nutLab.js';
import { ON_NUT } from '../fixtures/nutVersion.js';

const HA = 'homeassistant';
const cleanup = new Cleanup();
afterEach(() => cleanup.runOrThrow());

async function setUp(): Promise<MqttAgent> {
  const setup = await startMqttAgent({
    upses: [{ name: 'ups1' }, { name: 'ups2' }],
    env: { HINT_EPISODES_PER_DAY: '2' },
  });
  cleanup.add('MQTT setup', () => setup.stop());
  return setup;
}

const eventsOf = (setup: MqttAgent, ups: string, since: number) =>
  setup.obs.on(`nut/${ups}/event`, since).map((m) => json(m) as unknown as UpsEventJson);

describe(`Tuning hints, ${ON_NUT}`, () => {
  it('turns two real driver hangs into two hang episodes and exactly one tuning-hint for that UPS', async () => {
    const setup = await setUp();
    const { agent, obs } = setup;
    for (const ups of ['ups1', 'ups2'])
      await obs.waitFor(`nut/${ups}/availability`, (m) => m.text === 'online');
    const since = obs.mark();
    const neighbourPid = agent.driverPid('ups2');

    for (let fault = 1; fault <= 2; fault++) {
      const mark = agent.mark();
      const hungPid = agent.driverPid('ups1') as number;
      process.kill(hungPid, 'SIGSTOP');
      const recovered = await agent.waitForEvent('recovered', (e) => e.ups === 'ups1', {
        since: mark,
        timeoutMs: 30_000,
      });
      expect(recovered.reason).toBe('hung');
      expect(processAlive(hungPid)).toBe(false);
    }

    // The hint went out at the second hang; the state that counts it follows (bundled with the other updates).
    const hintMessage = await obs.waitFor(
      'nut/ups1/event',
      (m) => (json(m) as { type?: string }).type === 'tuning-hint',
      { since, timeoutMs: 10_000 },
    );
    const stateMessage = await obs.waitFor(
      'nut/ups1',
      (m) => (json(m) as unknown as UpsStateJson).supervisor.episodes_24h?.hang === 2,
      { since, timeoutMs: 10_000 },
    );

    const hint = json(hintMessage);
    expect(hint).toMatchObject({
      type: 'tuning-hint',
      ups: 'ups1',
      hint: 'generic-hang',
      kind: 'hang',
      count_24h: 2,
      threshold: 2,
      options: ['pollinterval = 5'],
    });
    expect(hint.text).toContain('2 hung-driver episodes in 24 h on ups1 (dummy-ups)');
    expect(hint.text).toContain('[ups1] in ups.conf: `pollinterval = 5`');
    expect(Date.parse(String(hint.at))).toBeGreaterThan(0);

    // One fault, one episode: the DATA-STALE polls and driver flags seen while it recovered are not counted again.
    const state = json(stateMessage) as unknown as UpsStateJson;
    expect(state.supervisor.episodes_24h).toEqual({ stale: 0, hang: 2, spin: 0 });
    expect(agent.controller.episodes.counts('ups1')).toEqual({ stale: 0, hang: 2, spin: 0 });

    const ups1Events = eventsOf(setup, 'ups1', since);
    expect(ups1Events.filter((e) => e.type === 'hung')).toHaveLength(2);
    expect(ups1Events.filter((e) => e.type === 'tuning-hint')).toHaveLength(1);

    // The neighbour: same driver process, no hint, no episode.
    expect(agent.driverPid('ups2')).toBe(neighbourPid);
    expect(eventsOf(setup, 'ups2', since).map((e) => e.type)).not.toContain('tuning-hint');
    const neighbour = json(obs.latest('nut/ups2')) as unknown as UpsStateJson;
    expect(neighbour.supervisor.episodes_24h).toEqual({ stale: 0, hang: 0, spin: 0 });
    expect(agent.eventsOf('tuning-hint')).toHaveLength(1);

    // Home Assistant reads the count from that state.
    const sensor = json(obs.latest(`${HA}/sensor/nut_ups1/hang_episodes_24h/config`));
    expect(sensor).toMatchObject({
      entity_category: 'diagnostic',
      state_class: 'measurement',
      state_topic: 'nut/ups1',
      value_template: '{{ value_json.supervisor.episodes_24h.hang }}',
    });
  });
});
