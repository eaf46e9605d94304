// Outage history end to end: a real dummy-ups UPS whose ups.status the test changes (.dev rewrites), the agent
// in-process with a real Mosquitto; the agent restarted in the middle of an outage; an input that flaps.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type AgentUnderTest, startAgent } from '../fixtures/agent.js';
import { cyberPowerDev } from '../fixtures/cyberPower.js';
import { discoveryProblems, retainedDiscovery } from '../fixtures/haDiscovery.js';
import { type MqttAgent, startMqttAgent } from '../fixtures/mqttAgent.js';
import { json, type Received, retainedOn } from '../fixtures/mqttObserver.js';
import { ON_NUT } from '../fixtures/nutVersion.js';
import { waitFor } from '../fixtures/proc.js';

const UPS = 'ups1';
const HISTORY = `nut/${UPS}/history`;
const EVENTS = `nut/${UPS}/event`;
/** A flapping input's outages are told together after this (the default is a minute). */
const OUTAGE_WINDOW_MS = 8000;

const running: MqttAgent[] = [];
afterEach(async () => {
  for (const setup of running.splice(0).reverse()) await setup.stop();
});

async function outageLab(): Promise<MqttAgent> {
  const setup = await startMqttAgent({
    upses: [{ name: UPS, dev: cyberPowerDev(1, { 'ups.load': 30 }), options: { pollinterval: '1' } }],
    bridgeTimings: { outageEventWindowMs: OUTAGE_WINDOW_MS },
  });
  running.push(setup);
  await setup.agent.waitForEvent('ready', (e) => e.ups === UPS);
  return setup;
}

/** Sets ups.status through the .dev file and waits until the agent has seen it. */
async function setStatus(setup: MqttAgent, agent: AgentUnderTest, status: string): Promise<number> {
  const since = agent.mark();
  await setup.lab.writeDev(UPS, { 'ups.status': status });
  const seen = await agent.waitForEvent('status-changed', (e) => e.ups === UPS && e.to === status, { since });
  return seen.at;
}

const historyWhere = (setup: MqttAgent, pred: (h: Record<string, unknown>) => boolean, since = 0) =>
  setup.obs.waitFor(HISTORY, (m) => m.text !== '' && pred(json(m)), { since, timeoutMs: 20_000 });
const eventOf = (setup: MqttAgent, type: string, since = 0) =>
  setup.obs.waitFor(EVENTS, (m) => json(m).type === type, { since, timeoutMs: 30_000 });

describe(`outage history on a dummy-ups UPS, ${ON_NUT}`, () => {
  it('an outage: live time on battery, its figures at its end as one event, retained state, HA entities that validate', async () => {
    const setup = await outageLab();
    const { agent, obs, broker } = setup;
    await historyWhere(setup, (h) => h.on_battery === false && h.time_on_battery_s === 0);
    const start = await setStatus(setup, agent, 'OB DISCHRG');
    const live = await historyWhere(
      setup,
      (h) => h.on_battery === true && (h.time_on_battery_s as number) > 0,
    );
    // The outage's clock reading and the status-changed event's may differ by a few ms (one status, two listeners).
    const near = (iso: unknown, t: number) => Math.abs(Date.parse(String(iso)) - t) < 1000;
    expect(near(json(live).on_battery_since, start)).toBe(true);
    // Live: republished while on battery, the counter growing.
    await historyWhere(
      setup,
      (h) => (h.time_on_battery_s as number) > (json(live).time_on_battery_s as number),
      obs.mark(),
    );
    const end = await setStatus(setup, agent, 'OL');
    const event = json(await eventOf(setup, 'outage'));
    expect(near(event.start, start) && near(event.end, end)).toBe(true);
    expect(Math.abs((event.duration_s as number) - (end - start) / 1000)).toBeLessThan(1);
    expect(event).toMatchObject({
      ups: UPS,
      outages: 1,
      start_seen: true,
      complete: true,
      outages_24h: 1,
    });
    // 30 % of 900 W from the battery, integrated by the energy meter over the outage.
    expect(event.battery_wh).toBeGreaterThan(0);
    const state = json(
      await historyWhere(setup, (h) => h.last_outage_end !== null && h.on_battery === false),
    );
    expect(state).toMatchObject({
      time_on_battery_s: 0,
      last_outage_start: event.start,
      last_outage_end: event.end,
      last_outage_duration_s: event.duration_s,
      last_outage_battery_wh: event.battery_wh,
      last_outage_complete: true,
      longest_outage_duration_s: event.duration_s,
      outages_24h: 1,
      outages_30d: 1,
      on_battery_24h_s: event.on_battery_s,
      self_test_supported: false,
    });
    const retained = await retainedOn(broker, [HISTORY]);
    expect(JSON.parse(retained.get(HISTORY) ?? '{}')).toMatchObject({ last_outage_end: event.end });
    const configs = await retainedDiscovery(broker, ['homeassistant/#']);
    const history = configs.filter((c) => c.payload.state_topic === HISTORY);
    expect(history.map((c) => c.topic.split('/')[3]).sort()).toEqual(
      [
        'battery_attention',
        'last_outage_duration',
        'last_outage_end',
        'last_outage_energy',
        'last_outage_start',
        'longest_outage',
        'outages_24h',
        'outages_30d',
        'time_on_battery',
        'time_on_battery_24h',
        'time_on_battery_30d',
      ].sort(),
    );
    expect(configs.flatMap(discoveryProblems)).toEqual([]);
    console.log(
      `outage sample: retained ${HISTORY} = ${retained.get(HISTORY)}\n` +
        `events: ${obs
          .on(EVENTS)
          .map((m: Received) => m.text)
          .join('\n        ')}`,
    );
  }, 120_000);

  it('an agent restart in the middle of an outage: the gap said, one outage kept whole, none invented', async () => {
    const setup = await outageLab();
    const { lab, broker, obs, cleanup } = setup;
    const start = await setStatus(setup, setup.agent, 'OB DISCHRG');
    await historyWhere(setup, (h) => h.on_battery === true);
    // Written within a second of the outage's start, not only at stop: a crash now would not lose it either.
    const file = join(lab.dir, 'data', 'history.json');
    await waitFor(
      'the outage in history.json',
      async () => {
        const text = await readFile(file, 'utf8').catch(() => '{}');
        return (JSON.parse(text) as { ups?: Record<string, { current?: unknown }> }).ups?.[UPS]?.current
          ? true
          : undefined;
      },
      { timeoutMs: 15_000 },
    );
    await setup.agent.stop();
    const saved = JSON.parse(await readFile(file, 'utf8'));
    expect(saved.ups[UPS].current).toMatchObject({ start, startSeen: true });

    const since = obs.mark();
    const agent2 = await startAgent(lab, {
      env: { MQTT_URL: broker.url },
      bridgeTimings: { outageEventWindowMs: OUTAGE_WINDOW_MS },
    });
    cleanup.add('second agent', () => agent2.stop());
    const gap = json(await eventOf(setup, 'history-gap', since));
    expect(gap).toMatchObject({ ups: UPS, on_battery_before: true, on_battery_after: true });
    expect(Date.parse(gap.from as string)).toBeLessThan(Date.parse(gap.to as string));
    // Still the same outage: its start is the one before the restart.
    await historyWhere(
      setup,
      (h) => h.on_battery === true && h.on_battery_since === new Date(start).toISOString(),
      since,
    );
    await setStatus(setup, agent2, 'OL');
    const event = json(await eventOf(setup, 'outage', since));
    expect(event).toMatchObject({ outages: 1, start: new Date(start).toISOString(), complete: false });
    const state = json(await historyWhere(setup, (h) => h.last_outage_end === event.end, since));
    expect(state).toMatchObject({ outages_24h: 1, last_outage_complete: false });
    expect(state.unwatched_24h_s).toBeGreaterThan(0);
    expect(agent2.eventsOf('outage')).toHaveLength(1);

    // Down again, and the outage ends while the agent is away: recorded, its end unknown; still nothing invented.
    await setStatus(setup, agent2, 'OB DISCHRG');
    await historyWhere(setup, (h) => h.on_battery === true, since);
    await agent2.stop();
    await lab.writeDev(UPS, { 'ups.status': 'OL' });
    const since3 = obs.mark();
    const agent3 = await startAgent(lab, { env: { MQTT_URL: broker.url } });
    cleanup.add('third agent', () => agent3.stop());
    const unseen = json(await eventOf(setup, 'outage', since3));
    expect(unseen).toMatchObject({ outages: 1, end: null, duration_s: null, complete: false });
    const after = json(
      await historyWhere(setup, (h) => h.on_battery === false && h.outages_24h === 2, since3),
    );
    expect(after).toMatchObject({
      last_outage_end: null,
      last_outage_duration_s: null,
      last_outage_complete: false,
    });
  }, 180_000);

  it('a flapping input: every outage counted, at most one event per window, the history topic not flooded', async () => {
    const setup = await outageLab();
    const { agent, obs } = setup;
    const since = obs.mark();
    const busSince = agent.mark();
    const began = Date.now();
    const FLAPS = 8;
    for (let i = 0; i < FLAPS; i++) {
      await setStatus(setup, agent, 'OB DISCHRG');
      await setStatus(setup, agent, 'OL');
    }
    const flapMs = Date.now() - began;
    // Every outage is in exactly one event: the first at once, the rest together once the window is over.
    await waitForEventSum(setup, since, FLAPS);
    const events = obs
      .on(EVENTS, since)
      .map(json)
      .filter((e) => e.type === 'outage');
    expect(events.reduce((sum, e) => sum + (e.outages as number), 0)).toBe(FLAPS);
    expect(events.length).toBeLessThanOrEqual(Math.ceil((Date.now() - began) / OUTAGE_WINDOW_MS) + 1);
    expect(events.length).toBeLessThan(FLAPS);
    const ended = agent.eventsOf('status-changed', (e) => e.ups === UPS && e.to === 'OL', busSince);
    expect(ended).toHaveLength(FLAPS);
    const state = json(await historyWhere(setup, (h) => h.outages_24h === FLAPS, since));
    expect(state.outages_30d).toBe(FLAPS);
    // At most one history message per 2 s per UPS (plus the one that may be on its way at each end).
    const published = obs.on(HISTORY, since).filter((m) => Date.parse(json(m).watched_since as string) > 0);
    expect(published.length).toBeLessThanOrEqual(Math.ceil(flapMs / 2000) + 3);
  }, 180_000);
});

describe(`battery care on a dummy-ups UPS, ${ON_NUT}`, () => {
  it('battery age and replace-by from battery.date; the RB flag makes the battery need attention, with the reason', async () => {
    const setup = await startMqttAgent({
      upses: [
        {
          name: UPS,
          dev: cyberPowerDev(1, { 'battery.date': '2023/05/17' }),
          options: { pollinterval: '1' },
        },
      ],
      env: { BATTERY_LIFE_MONTHS: '48' },
    });
    running.push(setup);
    const { agent, obs, broker } = setup;
    await agent.waitForEvent('ready', (e) => e.ups === UPS);
    const state = json(await historyWhere(setup, (h) => h.battery_date !== null));
    const ageDays = Math.floor((Date.now() - Date.UTC(2023, 4, 17)) / 86_400_000);
    expect(state).toMatchObject({
      battery_date: '2023-05-17',
      battery_date_source: 'battery.date',
      battery_replace_by: '2027-05-17',
      battery_attention: false,
    });
    expect(Math.abs((state.battery_age_days as number) - ageDays)).toBeLessThanOrEqual(1);
    const since = obs.mark();
    await setStatus(setup, agent, 'OL RB');
    const attention = json(await historyWhere(setup, (h) => h.battery_attention === true, since));
    expect(attention).toMatchObject({
      battery_attention_reasons: ['replace-flag'],
      battery_attention_text: 'The UPS says the battery needs replacing (RB)',
    });
    // Discovery follows the UPS's variables a moment after they arrive.
    await obs.waitFor('homeassistant/sensor/nut_ups1/battery_replace_by/config', (m) => m.text !== '', {
      timeoutMs: 20_000,
    });
    const configs = await retainedDiscovery(broker, ['homeassistant/+/nut_ups1/+/config']);
    expect(configs.map((c) => c.topic.split('/')[3])).toEqual(
      expect.arrayContaining(['battery_age', 'battery_replace_by', 'battery_attention']),
    );
    expect(configs.flatMap(discoveryProblems)).toEqual([]);
  }, 120_000);
});

async function waitForEventSum(setup: MqttAgent, since: number, total: number): Promise<void> {
  await setup.obs.waitFor(
    EVENTS,
    () =>
      setup.obs
        .on(EVENTS, since)
        .map(json)
        .filter((e) => e.type === 'outage')
        .reduce((sum, e) => sum + (e.outages as number), 0) >= total,
    { since, timeoutMs: 60_000 },
  );
}
