// The add-on's settings from the Supervisor: the services API against a local stand-in that answers as
// documented, and the whole add-on start (options.json, the broker, NUT under /data) in temp folders.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addonFiles, addonSettings, isAddon } from '../../src/addon/addon.js';
import { AddonOptionsError } from '../../src/addon/options.js';
import {
  fetchMqttService,
  mqttServiceUrl,
  parseMqttService,
  protocolVersion,
  SupervisorApiError,
} from '../../src/addon/supervisorApi.js';
import { loadConfig } from '../../src/config/load.js';
import { freePort } from '../fixtures/proc.js';
import { type SupervisorStandIn, startSupervisorStandIn } from '../fixtures/supervisorStandIn.js';

const TOKEN = 'addon-token-1234';
const SERVICE = {
  host: 'core-mosquitto',
  port: 1883,
  ssl: false,
  username: 'addons',
  password: 'broker-secret-pw',
  protocol: '3.1.1',
};

describe('the Supervisor’s MQTT service', () => {
  let standIn: SupervisorStandIn;
  beforeAll(async () => {
    standIn = await startSupervisorStandIn(TOKEN, SERVICE);
  });
  afterAll(() => standIn?.stop());
  const client = (over: Partial<Parameters<typeof fetchMqttService>[0]> = {}) => ({
    url: standIn.url,
    token: TOKEN,
    attempts: 2,
    retryDelayMs: 10,
    ...over,
  });

  it('is asked with the token, and gives the broker and its credentials', async () => {
    standIn.answer({ data: SERVICE });
    expect(await fetchMqttService(client())).toEqual(SERVICE);
    expect(standIn.requests.at(-1)).toEqual({ method: 'GET', path: '/services/mqtt', authorized: true });
  });

  it('fails with a message that says what is missing, and never the credentials', async () => {
    await expect(fetchMqttService(client({ token: '' }))).rejects.toThrow(/SUPERVISOR_TOKEN is not set/);
    await expect(fetchMqttService(client({ token: 'wrong' }))).rejects.toThrow(
      /refused SUPERVISOR_TOKEN.*401/,
    );
    standIn.answer({ status: 400, message: 'No mqtt service available' });
    const missing = fetchMqttService(client());
    await expect(missing).rejects.toThrow(/HTTP 400.*No mqtt service available.*Mosquitto broker add-on/);
    standIn.answer({ status: 502, message: 'Bad gateway' });
    await expect(fetchMqttService(client())).rejects.toThrow(/HTTP 502.*gave up after 2 attempts/);
    const closed = await freePort();
    await expect(fetchMqttService(client({ url: `http://127.0.0.1:${closed}` }))).rejects.toThrow(
      new RegExp(
        `cannot reach the Supervisor at http://127.0.0.1:${closed}/services/mqtt \\(ECONNREFUSED\\)`,
      ),
    );
    standIn.answer({ data: { ...SERVICE, port: 'x' as unknown as number } });
    const bad = await fetchMqttService(client()).catch((e: Error) => e);
    expect(bad).toBeInstanceOf(SupervisorApiError);
    expect(String(bad)).toMatch(/not as documented \(bad or missing: port\)/);
    expect(String(bad)).not.toContain(SERVICE.password);
  });

  it('reads the documented answer strictly, and maps it onto a broker URL and protocol', () => {
    expect(() => parseMqttService({ result: 'error', message: 'nope' })).toThrow(/no MQTT service.*nope/);
    expect(() => parseMqttService({ result: 'ok', data: { host: 'a b', port: 1 } })).toThrow(/host/);
    expect(mqttServiceUrl({ ...SERVICE, ssl: true, port: 8883 })).toBe('mqtts://core-mosquitto:8883');
    expect(mqttServiceUrl({ ...SERVICE, host: 'fd00::1' })).toBe('mqtt://[fd00::1]:1883');
    expect([protocolVersion('3.1.1'), protocolVersion('5'), protocolVersion('5.0')]).toEqual([4, 5, 5]);
    expect(() => protocolVersion('3.1')).toThrow(/speaks 3.1.1 and 5/);
  });
});

describe('the add-on start', () => {
  let standIn: SupervisorStandIn;
  let paths: { data: string; config: string };
  beforeAll(async () => {
    standIn = await startSupervisorStandIn(TOKEN, SERVICE);
    const dir = mkdtempSync(join(tmpdir(), 'addon-'));
    paths = { data: join(dir, 'data'), config: join(dir, 'config') };
    mkdirSync(paths.data);
    mkdirSync(paths.config);
  });
  afterAll(() => standIn?.stop());
  const env = () => ({ SUPERVISOR_TOKEN: TOKEN, SUPERVISOR_URL: standIn.url, NUT_CONFPATH: '/etc/nut' });
  const options = (o: unknown) => writeFileSync(join(paths.data, 'options.json'), JSON.stringify(o));

  it('is recognised by the token the Supervisor gives every add-on', () => {
    expect(isAddon({ SUPERVISOR_TOKEN: 'x' })).toBe(true);
    expect(isAddon({})).toBe(false);
  });

  it('maps the options and the service onto the agent’s settings, NUT and the energy store under /data', async () => {
    options({
      upses: [{ name: 'rack', driver: 'usbhid-ups', port: 'auto' }],
      instcmd_allow: ['beeper.disable'],
      nut_username: 'watcher',
      nut_password: 'nut-secret',
      base_topic: 'ups',
      log_level: 'debug',
    });
    const settings = await addonSettings(env(), paths);
    const { config } = loadConfig({ env: settings.env });
    expect(config.nut.confPath).toBe(join(paths.data, 'nut'));
    expect(config.supervisor.dataPath).toBe(paths.data);
    expect(config.init.onStart).toBe(false);
    expect(config.mqtt).toMatchObject({
      url: 'mqtt://core-mosquitto:1883',
      username: 'addons',
      password: SERVICE.password,
      protocolVersion: 4,
      baseTopic: 'ups',
      instcmdAllow: ['beeper.disable'],
    });
    expect(config.nut).toMatchObject({ username: 'watcher', password: 'nut-secret' });
    expect(config.log.level).toBe('debug');
    expect(settings.summary).toContain('mqtt://core-mosquitto:1883 as addons');
    expect(settings.summary).not.toContain(SERVICE.password);
    expect(settings.summary).not.toContain('nut-secret');
    const files = addonFiles(settings, config);
    expect(files.find((f) => f.name === 'upsd.users')?.content).toContain('password = "nut-secret"');
    expect(files.find((f) => f.name === 'upsd.conf')?.content).toContain('LISTEN 0.0.0.0 3493');
  });

  it('gives a random NUT password when none is set, and says clearly what is wrong with the options', async () => {
    options({ upses: [{ name: 'ups', driver: 'usbhid-ups', port: 'auto' }] });
    const settings = await addonSettings(env(), paths);
    expect(settings.env.NUT_PASSWORD).toMatch(/^[A-Za-z0-9_-]{24}$/);
    options({ upses: [{ name: 'ups', driver: 'usb hid', port: 'auto' }] });
    await expect(addonSettings(env(), paths)).rejects.toThrow(AddonOptionsError);
    writeFileSync(join(paths.data, 'options.json'), '{not json');
    await expect(addonSettings(env(), paths)).rejects.toThrow(/options.json is not JSON/);
    await expect(addonSettings(env(), { ...paths, data: join(paths.data, 'missing') })).rejects.toThrow(
      /options.json cannot be read \(ENOENT\).*is \/data mapped/,
    );
  });
});
