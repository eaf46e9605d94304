// The Home Assistant add-on: the repository's image, run the way the Supervisor runs an add-on — its options in
// /data/options.json on a volume at /data, the add-on config folder at /config, SUPERVISOR_TOKEN in the
// environment, the image's own entrypoint (config.yaml: init false) — with a local stand-in for the Supervisor's
// services API that answers as documented and names a test Mosquitto that needs a login. What differs from a real
// Supervisor is only what the lab needs: SUPERVISOR_URL points at the stand-in on 127.0.0.1 (the default is
// http://supervisor), and with host networking (the lab's engine has no bridge) upsd and the health listener get
// free ports instead of 3493 and 8080.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DiscoveryMessage } from '../../src/homeassistant/types.js';
import { cyberPowerDev, devText } from '../fixtures/cyberPower.js';
import { connectDockerEngine, type DockerEngine } from '../fixtures/docker/engine.js';
import {
  buildRepoImage,
  type ContainerProc,
  containerProcs,
  runImage,
} from '../fixtures/docker/repoImage.js';
import { discoveryProblems, HA_TOPIC } from '../fixtures/haDiscovery.js';
import { type Broker, startMosquitto } from '../fixtures/mosquitto.js';
import { json, type Observer, observe, retainedOn } from '../fixtures/mqttObserver.js';
import { freePort, processAlive, waitFor } from '../fixtures/proc.js';
import { type SupervisorStandIn, startSupervisorStandIn } from '../fixtures/supervisorStandIn.js';

const lab = inject('dockerLab');
const IMAGE = 'nut-mqtt:lab-addon';
const TOKEN = `lab-supervisor-token-${process.pid}`;
const SERVICE_USER = { username: 'addons', password: `broker-pw-${process.pid}-x7` };
const OBSERVER = { username: 'observer', password: 'observer-pw' };
const NUT_PASSWORD = 'lab-nut-pass-42';
const BASE = 'upsaddon';

describe.skipIf(!lab.host)('the Home Assistant add-on, run as the Supervisor runs it', () => {
  let engine: DockerEngine;
  let broker: Broker;
  let obs: Observer;
  let standIn: SupervisorStandIn;
  let data: string;
  let config: string;
  const containers: string[] = [];
  const log = (line: string) => process.stderr.write(`[addon] ${line}\n`);

  /** docker run as the Supervisor would for this add-on (see the file's head for what the lab changes). */
  async function runAddon(name: string, supervisorUrl: string): Promise<void> {
    const env = {
      SUPERVISOR_TOKEN: TOKEN,
      SUPERVISOR_URL: supervisorUrl,
      TZ: 'Etc/UTC',
      INIT_LISTEN_HOST: '127.0.0.1',
      INIT_LISTEN_PORT: String(await freePort()),
      HTTP_PORT: String(await freePort()),
    };
    await runImage(engine, {
      name,
      image: IMAGE,
      env,
      volumes: { [data]: '/data', [config]: '/config' },
      healthIntervalS: 2,
    });
    containers.push(name);
  }

  const logsOf = async (name: string) => String((await engine.docker(['logs', name], { all: true })).all);

  beforeAll(async () => {
    engine = await connectDockerEngine(lab.host as string);
    await buildRepoImage(engine, 'amd64', IMAGE, log);
    broker = await startMosquitto({ users: [SERVICE_USER, OBSERVER] });
    obs = await observe(broker, [`${BASE}/#`, 'homeassistant/#'], OBSERVER);
    standIn = await startSupervisorStandIn(TOKEN, {
      host: '127.0.0.1',
      port: broker.port,
      ssl: false,
      ...SERVICE_USER,
      protocol: '3.1.1',
    });
    data = await mkdtemp(join(tmpdir(), 'nm-addon-data-'));
    config = await mkdtemp(join(tmpdir(), 'nm-addon-config-'));
    // What the Supervisor writes from the user's options (config.yaml's schema): a dummy-ups UPS for the lab.
    await writeFile(join(data, 'ups.dev'), devText(cyberPowerDev(1)));
    const options = {
      upses: [
        {
          name: 'ups',
          driver: 'dummy-ups',
          port: '/data/ups.dev',
          desc: 'Lab UPS',
          config: ['pollinterval = 2'],
        },
      ],
      nut_files: false,
      instcmd_allow: ['beeper.disable'],
      nut_username: 'monuser',
      nut_password: NUT_PASSWORD,
      base_topic: BASE,
      log_level: 'info',
    };
    await writeFile(join(data, 'options.json'), JSON.stringify(options));
    await runAddon(`nut-mqtt-lab-addon-${process.pid}`, standIn.url);
  });

  afterAll(async () => {
    for (const name of containers) await engine?.docker(['rm', '--force', name], { reject: false });
    await obs?.stop();
    await standIn?.stop();
    await broker?.stop();
    for (const dir of [data, config]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('asks the services API with its token and reaches the broker the service names, with its login', async () => {
    const state = await obs.waitFor(`${BASE}/ups`, (m) => json(m)['ups.status'] === 'OL', {
      timeoutMs: 60_000,
    });
    expect(json(state)).toMatchObject({ 'device.mfr': 'CPS' });
    expect(standIn.requests).toContainEqual({ method: 'GET', path: '/services/mqtt', authorized: true });
    expect((await obs.waitFor(`${BASE}/ups/availability`, (m) => m.text === 'online')).text).toBe('online');
    expect((await obs.waitFor(`${BASE}/bridge/state`, (m) => m.text === 'online')).text).toBe('online');
  });

  it('keeps NUT’s configuration under /data, written from the options', async () => {
    expect((await readdir(join(data, 'nut'))).sort()).toEqual([
      'nut.conf',
      'ups.conf',
      'upsd.conf',
      'upsd.users',
    ]);
    const upsConf = await readFile(join(data, 'nut', 'ups.conf'), 'utf8');
    expect(upsConf).toContain('[ups]\n  driver = dummy-ups\n  port = "/data/ups.dev"\n  desc = "Lab UPS"');
    expect(upsConf).toContain('  pollinterval = "2"');
    const users = await readFile(join(data, 'nut', 'upsd.users'), 'utf8');
    expect(users).toContain(
      `[monuser]\n  password = "${NUT_PASSWORD}"\n  upsmon primary\n  instcmds = beeper.disable`,
    );
  });

  it('publishes discovery that Home Assistant accepts, under the device the options describe', async () => {
    await obs.waitFor((t) => t.endsWith('/restart_driver/config'), undefined, { timeoutMs: 30_000 });
    // Discovery goes out as one burst: read the retained configs until two reads a second apart agree.
    let last = -1;
    const configs = await waitFor(
      'all discovery configs retained',
      async () => {
        const now = [...(await retainedOn(broker, ['homeassistant/#'], OBSERVER))].filter(
          ([, text]) => text !== '',
        );
        const settled = now.length === last;
        last = now.length;
        return settled ? now : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 1000 },
    );
    log(`${configs.length} discovery configs retained`);
    expect(configs.length).toBeGreaterThan(15);
    // As received: the component from the topic (the validator checks it is one Home Assistant knows).
    const messages = configs.map(([topic, text]) => {
      const component = HA_TOPIC.exec(topic)?.groups?.component as DiscoveryMessage['component'];
      expect(['sensor', 'binary_sensor', 'button'], topic).toContain(component);
      return { topic, component, payload: JSON.parse(text) as DiscoveryMessage['payload'] };
    });
    expect(messages.flatMap((m) => discoveryProblems(m))).toEqual([]);
    const ids = configs.map(([, text]) => (JSON.parse(text) as { unique_id: string }).unique_id);
    expect(new Set(ids).size).toBe(ids.length);
    const topics = configs.map(([topic]) => topic);
    for (const object of ['battery_charge', 'status', 'mains_power', 'restart_driver'])
      expect(
        topics.some((t) => t.endsWith(`/${object}/config`)),
        object,
      ).toBe(true);
    const charge = configs.find(([t]) => t.endsWith('/battery_charge/config'))?.[1] ?? '{}';
    expect(JSON.parse(charge)).toMatchObject({ state_topic: `${BASE}/ups`, device: { name: 'Lab UPS' } });
  });

  it('recovers a hung (SIGSTOPped) driver', async () => {
    const name = containers[0] as string;
    const driver = (await containerProcs(engine, name)).find((p) => /dummy-ups/.test(p.args));
    expect(driver).toBeTruthy();
    const since = obs.mark();
    process.kill((driver as ContainerProc).pid, 'SIGSTOP');
    const recovered = await obs.waitFor(`${BASE}/ups/event`, (m) => json(m).type === 'recovered', {
      since,
      timeoutMs: 60_000,
    });
    log(`hang recovered: ${JSON.stringify(json(recovered))}`);
    expect(json(recovered)).toMatchObject({ ups: 'ups', reason: 'hung' });
    expect(processAlive((driver as ContainerProc).pid)).toBe(false);
  });

  it('logs no warning and no secret, and stops cleanly on `docker stop` with the energy store in /data', async () => {
    const name = containers[0] as string;
    await engine.docker(['stop', '--time', '20', name]);
    const state = await engine.docker(['inspect', '-f', '{{.State.ExitCode}}', name]);
    expect(String(state.stdout).trim()).toBe('0');
    const output = await logsOf(name);
    expect(output).toContain('Home Assistant add-on: options from /data/options.json (UPS ups (dummy-ups))');
    expect(output).toContain(`MQTT broker mqtt://127.0.0.1:${broker.port} as addons from the Supervisor`);
    for (const secret of [SERVICE_USER.password, NUT_PASSWORD, TOKEN]) expect(output).not.toContain(secret);
    const warnings = output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .filter((l) => l.level >= 40 && !/hung|recovering|did not answer PING/.test(l.msg));
    expect(warnings).toEqual([]);
    expect(await readdir(data)).toContain('energy.json');
  });

  it('without an MQTT service, names what is missing and exits 2 without touching /data/nut', async () => {
    standIn.answer({ status: 400, message: 'Service not available' });
    const before = await readFile(join(data, 'nut', 'ups.conf'), 'utf8');
    const name = `nut-mqtt-lab-addon-${process.pid}-nomqtt`;
    await runAddon(name, standIn.url);
    const exit = await waitFor(
      'the add-on to exit',
      async () => {
        const r = await engine.docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name]);
        const [status, code] = String(r.stdout).trim().split(' ');
        return status === 'exited' ? Number(code) : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(exit).toBe(2);
    const output = await logsOf(name);
    expect(output).toContain('nut-mqtt: the Home Assistant Supervisor:');
    expect(output).toContain('HTTP 400');
    expect(output).toContain('Service not available');
    expect(output).toMatch(/Mosquitto broker add-on/);
    expect(await readFile(join(data, 'nut', 'ups.conf'), 'utf8')).toBe(before);
  });
});
