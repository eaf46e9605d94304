// The MQTT bridge when things go wrong: the broker goes away during a driver hang, the agent dies (last will),
// a UPS disappears from ups.conf, the password is wrong; and TLS with a test CA.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { type AgentUnderTest, startAgent } from '../fixtures/agent.js';
import { AGENT_CLI } from '../fixtures/agentCli.js';
import { Cleanup } from '../fixtures/cleanup.js';
import { assertNothingLeft, sweepLab } from '../fixtures/labProcs.js';
import { type Broker, startMosquitto } from '../fixtures/mosquitto.js';
import { type MqttAgent, type MqttAgentOptions, startMqttAgent } from '../fixtures/mqttAgent.js';
import { json, observe, retainedOn } from '../fixtures/mqttObserver.js';
import { createNutLab, killPid, type NutLab, processAlive, sleep, waitFor } from '../fixtures/nutLab.js';
import { ON_NUT } from '../fixtures/nutVersion.js';

const CLI = AGENT_CLI;

const cleanup = new Cleanup();
afterEach(() => cleanup.runOrThrow());

/** Broker, lab, observer and agent (startMqttAgent), stopped after the test with the leak check. */
async function setUp(opts: MqttAgentOptions): Promise<MqttAgent> {
  const setup = await startMqttAgent(opts);
  cleanup.add('MQTT setup', () => setup.stop());
  return setup;
}

const upses = (...names: string[]) => names.map((name) => ({ name }));

// The pieces one by one, for the tests that need another arrangement.
async function newBroker(opts: Parameters<typeof startMosquitto>[0] = {}): Promise<Broker> {
  const broker = await startMosquitto(opts);
  cleanup.add('broker', () => broker.stop());
  return broker;
}

async function newLab(names: string[]): Promise<NutLab> {
  const lab = await createNutLab({ upses: upses(...names) });
  cleanup.add('lab', () => lab.stop());
  return lab;
}

async function newAgent(lab: NutLab, env: Record<string, string>): Promise<AgentUnderTest> {
  const agent = await startAgent(lab, { env });
  cleanup.add('agent', async () => {
    await agent.stop();
    await assertNothingLeft(lab.confPath);
  });
  return agent;
}

async function newObserver(broker: Broker, opts: Parameters<typeof observe>[2] = {}) {
  const obs = await observe(broker, ['#'], opts);
  cleanup.add('observer', () => obs.stop());
  return obs;
}

describe(`MQTT bridge resilience, ${ON_NUT}`, () => {
  it('recovers a hung driver while the broker is down for 10 s, and is current and online once it is back', async () => {
    const { broker, obs, agent } = await setUp({ upses: upses('ups1', 'ups2') });
    await obs.waitFor('nut/ups1/availability', (m) => m.text === 'online');
    const since = agent.mark();
    const hungPid = agent.driverPid('ups1') as number;
    const otherPid = agent.driverPid('ups2');

    const brokerPid = broker.pid;
    await killPid(brokerPid);
    const downAt = Date.now();
    process.kill(hungPid, 'SIGSTOP');

    const recovered = await agent.waitForEvent('recovered', (e) => e.ups === 'ups1', {
      since,
      timeoutMs: 30_000,
    });
    expect(recovered.reason).toBe('hung');
    expect(processAlive(hungPid)).toBe(false);
    expect(agent.driverPid('ups1')).not.toBe(hungPid);
    expect(agent.driverPid('ups2')).toBe(otherPid);
    expect(agent.controller.mqttConnected()).toBe(false);
    await sleep(Math.max(0, 10_000 - (Date.now() - downAt)));

    await broker.restart(); // the same port, no persistence: every retained message is gone
    await waitFor('the agent to reconnect', () => (agent.controller.mqttConnected() ? true : undefined), {
      timeoutMs: 20_000,
    });
    // A fresh subscriber sees everything current, as Home Assistant after a broker restart would.
    await waitFor(
      'current retained state',
      async () => {
        const retained = await retainedOn(broker, ['nut/#']);
        const state = retained.get('nut/ups1');
        return retained.get('nut/bridge/state') === 'online' &&
          retained.get('nut/ups1/availability') === 'online' &&
          state !== undefined &&
          (JSON.parse(state) as { supervisor: { state: string } }).supervisor.state === 'ok'
          ? retained
          : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 500 },
    );
    const retained = await retainedOn(broker, ['nut/#', 'homeassistant/#']);
    const state = JSON.parse(retained.get('nut/ups1') ?? '{}') as Record<string, unknown>;
    expect(state['ups.status']).toBe('OL');
    expect(state.supervisor).toMatchObject({ state: 'ok', restarts: 1, last_restart_reason: 'hung' });
    expect(retained.get('nut/ups2/availability')).toBe('online');
    expect(retained.has('nut/bridge/info')).toBe(true);
    // Discovery is back too: nothing is stuck unavailable in Home Assistant.
    expect(retained.has('homeassistant/sensor/nut_ups1/battery_charge/config')).toBe(true);
    expect(retained.has('homeassistant/button/nut_bridge/restart_upsd/config')).toBe(true);
  });

  it('leaves `offline` on the bridge state through the last will when the agent is killed', async () => {
    const broker = await newBroker();
    const lab = await newLab(['ups1']);
    const obs = await newObserver(broker);
    const child: ResultPromise = execa('node', [...CLI, 'run'], {
      env: {
        PATH: process.env.PATH ?? '',
        ...lab.env,
        NUT_USER: 'root',
        MQTT_URL: broker.url,
        LOG_LEVEL: 'info',
      },
      extendEnv: false,
      reject: false,
    });
    cleanup.add('agent', async () => {
      child.kill('SIGKILL');
      await child;
      // SIGKILL leaves the agent's NUT processes behind: end them by pid.
      await sweepLab(lab.confPath);
    });
    await obs.waitFor('nut/bridge/state', (m) => m.text === 'online', { timeoutMs: 30_000 });
    await obs.waitFor('nut/ups1/availability', (m) => m.text === 'online', { timeoutMs: 30_000 });
    const since = obs.mark();
    child.kill('SIGKILL');
    await child;
    const will = await obs.waitFor('nut/bridge/state', undefined, { since });
    expect(will.text).toBe('offline');
    const retained = await retainedOn(broker, ['nut/bridge/state']);
    expect(retained.get('nut/bridge/state')).toBe('offline');
  });

  it('publishes `offline` itself on a clean stop', async () => {
    const { broker, obs, agent } = await setUp({ upses: upses('ups1') });
    let since = 0;
    try {
      await obs.waitFor('nut/ups1/availability', (m) => m.text === 'online');
      since = obs.mark();
    } finally {
      await agent.stop();
    }
    const retained = await retainedOn(broker, ['nut/#']);
    expect(retained.get('nut/bridge/state')).toBe('offline');
    expect(retained.get('nut/ups1/availability')).toBe('offline');
    // Said once: supervision stopping and the publisher stopping do not both publish it.
    await obs.waitFor('nut/bridge/state', (m) => m.text === 'offline', { since });
    expect(obs.on('nut/ups1/availability', since).map((m) => m.text)).toEqual(['offline']);
  });

  it('clears the discovery topics of a UPS removed from ups.conf at the next start, and ignores retained commands', async () => {
    const broker = await newBroker();
    const lab = await newLab(['ups1', 'ups2']);
    const first = await startAgent(lab, { env: { MQTT_URL: broker.url } });
    let ups2Topics: string[] = [];
    try {
      await waitFor(
        'discovery for ups2',
        async () => {
          const retained = await retainedOn(broker, ['homeassistant/#']);
          ups2Topics = [...retained.keys()].filter((t) => t.includes('/nut_ups2/'));
          return retained.has('homeassistant/sensor/nut_ups2/battery_charge/config') ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      );
    } finally {
      await first.stop();
    }
    expect(ups2Topics.length).toBeGreaterThan(10);

    const confFile = join(lab.confPath, 'ups.conf');
    const conf = readFileSync(confFile, 'utf8');
    writeFileSync(confFile, conf.slice(0, conf.indexOf('[ups2]')));
    // A retained command (a user's mistake) must not restart anything at every start.
    const pub = await observe(broker, ['nut/ups1/command/response']);
    cleanup.add('publisher', () => pub.stop());
    await pub.publish('nut/ups1/command', 'restart', { qos: 1, retain: true });

    const obs = await newObserver(broker);
    const second = await newAgent(lab, { MQTT_URL: broker.url });
    expect(second.controller.supervisor.upsNames).toEqual(['ups1']);
    for (const topic of ups2Topics) await obs.waitFor(topic, (m) => m.text === '', { timeoutMs: 30_000 });
    const retained = await retainedOn(broker, ['homeassistant/#']);
    expect([...retained.keys()].filter((t) => t.includes('/nut_ups2/'))).toEqual([]);
    expect(retained.has('homeassistant/sensor/nut_ups1/battery_charge/config')).toBe(true);
    expect(retained.has('homeassistant/button/nut_bridge/restart_upsd/config')).toBe(true);

    await second.waitForEvent('ready', (e) => e.ups === 'ups1');
    expect(second.eventsOf('recovering')).toEqual([]);
    expect(pub.messages).toEqual([]);
    expect(readFileSync(second.logFile, 'utf8')).toContain('ignoring a retained message on nut/ups1/command');
  });

  it('logs wrong MQTT credentials once, clearly, without the password, and keeps NUT running', async () => {
    const broker = await newBroker({ users: [{ username: 'agent', password: 'right-password' }] });
    const lab = await newLab(['ups1']);
    const agent = await newAgent(lab, {
      MQTT_URL: broker.url,
      MQTT_USERNAME: 'agent',
      MQTT_PASSWORD: 'Wr0ng-Secret-Pw',
    });
    await agent.waitForEvent('ready', (e) => e.ups === 'ups1');
    const pid = agent.driverPid('ups1');
    const upsdPid = agent.controller.supervisor.upsdPid;
    const refusals = () =>
      readFileSync(agent.logFile, 'utf8')
        .split('\n')
        .filter((l) => l.includes('refused the credentials'));
    await waitFor('the credential error in the log', () => (refusals().length > 0 ? true : undefined), {
      timeoutMs: 20_000,
    });
    const line = JSON.parse(refusals()[0] as string) as { level: number; msg: string };
    expect(line.level).toBe(50); // error
    expect(line.msg).toContain('MQTT_USERNAME');
    expect(line.msg).toContain('MQTT_PASSWORD');
    expect(line.msg).toContain('user "agent"');

    // It keeps retrying (1 s, 2 s, …) but says so only once.
    await sleep(4000);
    expect(refusals()).toHaveLength(1);
    expect(readFileSync(agent.logFile, 'utf8')).not.toContain('Wr0ng-Secret-Pw');
    expect(readFileSync(broker.logPath, 'utf8')).toMatch(/not authori[sz]ed|bad user name or password/i);
    // NUT did not notice.
    expect(agent.driverPid('ups1')).toBe(pid);
    expect(agent.controller.supervisor.upsdPid).toBe(upsdPid);
    expect(agent.eventsOf('recovering')).toEqual([]);
    expect((await lab.upsc('ups1'))['ups.status']).toBe('OL');
    expect(agent.controller.mqttConnected()).toBe(false);
  });

  it('connects over TLS with the test CA and a user name and password (MQTT 3.1.1)', async () => {
    const user = { username: 'agent', password: 'tls-password' };
    const { broker, obs, agent } = await setUp({
      upses: upses('ups1'),
      broker: { tls: true, users: [user] },
      observer: user,
      env: (_lab, b) => ({
        MQTT_CA_FILE: b.caFile as string,
        MQTT_USERNAME: user.username,
        MQTT_PASSWORD: user.password,
        MQTT_PROTOCOL_VERSION: '4',
      }),
    });
    expect(broker.url).toMatch(/^mqtts:/);
    await obs.waitFor('nut/bridge/state', (m) => m.text === 'online');
    await obs.waitFor('nut/ups1/availability', (m) => m.text === 'online');
    const state = await obs.waitFor(
      'nut/ups1',
      (m) => (json(m).supervisor as { state: string }).state === 'ok',
    );
    expect(json(state)['ups.status']).toBe('OL');
    expect(agent.controller.mqttConnected()).toBe(true);
    // MQTT 3.1.1 in Mosquitto's log: "p2" up to 2.0 (its own protocol enum), "p4" from 2.1 (the protocol level);
    // MQTT 5 is "p5" in both, so either spelling here proves 3.1.1.
    const log = readFileSync(broker.logPath, 'utf8');
    expect(log).toMatch(
      /New client connected from 127\.0\.0\.1:\d+ as nut-mqtt_nut_\S+ \(p[24], c1, k30, u'agent'\)/,
    );
    expect(readFileSync(agent.logFile, 'utf8')).not.toContain(user.password);
  });
});
