import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configTable } from '../../src/config/docs.js';
import { envNameOf } from '../../src/config/envNames.js';
import { ConfigError, loadConfig, maskUrlCredentials } from '../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'nm-cfg-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

function problems(env: Record<string, string>, configFile?: string): string {
  try {
    loadConfig({ env, ...(configFile ? { configFile } : {}) });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('has working defaults', () => {
    const { config } = loadConfig({ env: {} });
    expect(config.nut.confPath).toBe('/etc/nut');
    expect(config.supervisor.pollInterval).toBe(2000);
    expect(config.supervisor.probeTimeout).toBeGreaterThanOrEqual(2000);
    expect(config.mqtt.url).toBe('mqtt://localhost:1883');
    expect(config.mqtt.instcmdAllow).toEqual([]);
    expect(config.homeassistant.discovery).toBe(true);
  });

  it('reads the documented environment names', () => {
    const { config } = loadConfig({
      env: {
        NUT_CONFPATH: '/srv/nut',
        NUT_STATEPATH: '/srv/state',
        NUT_ALTPIDPATH: '/srv/pid',
        NUT_DRIVER_PATH: '/usr/lib/nut',
        NUT_UPSD_PATH: '/usr/sbin/upsd',
        NUT_USER: 'root',
        LOG_LEVEL: 'debug',
        POLL_INTERVAL: '1000',
        MQTT_BASE_TOPIC: 'ups',
        HA_DISCOVERY: 'off',
        INSTCMD_ALLOW: 'beeper.disable,test.battery.start.quick',
        MQTT_PROTOCOL_VERSION: '4',
      },
    });
    expect(config.nut).toMatchObject({
      confPath: '/srv/nut',
      statePath: '/srv/state',
      altPidPath: '/srv/pid',
      user: 'root',
    });
    expect(config.nut.driverPath).toBe('/usr/lib/nut');
    expect(config.nut.upsdPath).toBe('/usr/sbin/upsd');
    expect(config.log.level).toBe('debug');
    expect(config.supervisor.pollInterval).toBe(1000);
    expect(config.mqtt.baseTopic).toBe('ups');
    expect(config.mqtt.protocolVersion).toBe(4);
    expect(config.homeassistant.discovery).toBe(false);
    expect(config.mqtt.instcmdAllow).toEqual(['beeper.disable', 'test.battery.start.quick']);
  });

  it.each([
    [{ POLL_INTERVAL: '2000ms' }, 'supervisor.pollInterval (env POLL_INTERVAL)'],
    [
      { PROBE_TIMEOUT: '100' },
      'supervisor.probeTimeout (env PROBE_TIMEOUT): must be a whole number of milliseconds from 500',
    ],
    [{ BREAKER_RESTARTS: '0' }, 'supervisor.breakerRestarts (env BREAKER_RESTARTS)'],
    [{ LOG_LEVEL: 'verbose' }, 'log.level (env LOG_LEVEL)'],
    [{ MQTT_URL: 'http://broker' }, 'mqtt.url (env MQTT_URL): must use mqtt://'],
    [{ MQTT_URL: 'not a url' }, 'mqtt.url (env MQTT_URL)'],
    [{ MQTT_BASE_TOPIC: 'nut/#' }, 'mqtt.baseTopic (env MQTT_BASE_TOPIC)'],
    [{ HA_STATUS_TOPIC: 'homeassistant/+' }, 'homeassistant.statusTopic (env HA_STATUS_TOPIC)'],
    [{ HA_DISCOVERY: 'maybe' }, 'homeassistant.discovery (env HA_DISCOVERY)'],
    [{ MQTT_PROTOCOL_VERSION: '3' }, 'mqtt.protocolVersion (env MQTT_PROTOCOL_VERSION)'],
    [{ INSTCMD_ALLOW: 'beeper.disable;reboot' }, 'mqtt.instcmdAllow (env INSTCMD_ALLOW)'],
    [{ NUT_CONFPATH: 'etc/nut' }, 'nut.confPath (env NUT_CONFPATH): must be an absolute path'],
    [
      { MQTT_PASSWORD_FILE: '/nonexistent/secret' },
      'mqtt.passwordFile (env MQTT_PASSWORD_FILE): /nonexistent/secret cannot be read',
    ],
    [{ NUT_PASSWORD_FILE: '/nonexistent/nutpw' }, 'nut.passwordFile (env NUT_PASSWORD_FILE)'],
    [
      { MQTT_CA_FILE: '/nonexistent/ca.pem' },
      'mqtt.caFile (env MQTT_CA_FILE): /nonexistent/ca.pem cannot be read',
    ],
    [{ MQTT_CERT_FILE: '/etc/hostname' }, 'set both or neither'],
    [
      { BATTERY_SELF_TEST_AT: '3am' },
      'battery.selfTestAt (env BATTERY_SELF_TEST_AT): must be a time of day as HH:MM, e.g. 03:00',
    ],
    [{ BATTERY_SELF_TEST_AT: '24:00' }, 'battery.selfTestAt (env BATTERY_SELF_TEST_AT)'],
    [{ BATTERY_SELF_TEST_TYPE: 'long' }, 'battery.selfTestType (env BATTERY_SELF_TEST_TYPE)'],
    [{ BATTERY_SELF_TEST_DAYS: '30d' }, 'battery.selfTestDays (env BATTERY_SELF_TEST_DAYS)'],
    [{ BATTERY_SELF_TEST_MIN_CHARGE: '101' }, 'battery.selfTestMinCharge (env BATTERY_SELF_TEST_MIN_CHARGE)'],
    [{ BATTERY_LIFE_MONTHS: '-1' }, 'battery.lifeMonths (env BATTERY_LIFE_MONTHS)'],
  ])('rejects %o naming the key', (env, expected) => {
    expect(problems(env)).toContain(expected);
  });

  it('reads the battery settings: no self-test schedule and a 36-month battery life by default', () => {
    expect(loadConfig({ env: {} }).config.battery).toEqual({
      selfTestDays: 0,
      selfTestAt: '03:00',
      selfTestType: 'quick',
      selfTestMinCharge: 90,
      lifeMonths: 36,
    });
    const env = {
      BATTERY_SELF_TEST_DAYS: '30',
      BATTERY_SELF_TEST_AT: ' 04:30 ',
      BATTERY_SELF_TEST_TYPE: 'deep',
      BATTERY_SELF_TEST_MIN_CHARGE: '80',
      BATTERY_LIFE_MONTHS: '48',
    };
    expect(loadConfig({ env }).config.battery).toEqual({
      selfTestDays: 30,
      selfTestAt: '04:30',
      selfTestType: 'deep',
      selfTestMinCharge: 80,
      lifeMonths: 48,
    });
  });

  it('lists every problem at once', () => {
    const message = problems({ POLL_INTERVAL: 'x', LOG_LEVEL: 'y' });
    expect(message).toContain('POLL_INTERVAL');
    expect(message).toContain('LOG_LEVEL');
  });

  it('reads JSON and YAML files, the environment winning', () => {
    const yaml = file('a.yaml', 'supervisor:\n  pollInterval: 1500\nmqtt:\n  baseTopic: rack\n');
    expect(loadConfig({ env: {}, configFile: yaml }).config.supervisor.pollInterval).toBe(1500);
    expect(
      loadConfig({ env: { POLL_INTERVAL: '900' }, configFile: yaml }).config.supervisor.pollInterval,
    ).toBe(900);
    const json = file('a.json', JSON.stringify({ log: { level: 'warn' } }));
    expect(loadConfig({ env: { NUT_MQTT_CONFIG: json } }).config.log.level).toBe('warn');
  });

  it('accepts the shipped example file', () => {
    const { config } = loadConfig({
      env: {},
      configFile: join(import.meta.dirname, '../../config/nut-mqtt.example.yaml'),
    });
    expect(config.supervisor.probeInterval).toBe(250);
  });

  it('rejects unknown keys, broken files and non-objects, naming the file or key', () => {
    expect(problems({}, file('b.yaml', 'supervisor:\n  polInterval: 1\n'))).toContain(
      'supervisor.polInterval: unknown key',
    );
    expect(problems({}, file('c.json', '{ not json'))).toMatch(/config file .*c\.json: cannot be read/);
    expect(problems({}, file('d.yaml', '- a\n- b\n'))).toContain('must hold an object of settings');
    expect(problems({}, join(dir, 'missing.yaml'))).toContain('missing.yaml: not found');
  });

  it('takes secrets from files and never shows them', () => {
    const secret = file('mqtt-pw', 'correct horse battery staple\n');
    const loaded = loadConfig({
      env: {
        MQTT_PASSWORD_FILE: secret,
        NUT_PASSWORD: 'nut-secret',
        MQTT_URL: 'mqtts://agent:url-secret@broker:8883',
      },
    });
    expect(loaded.config.mqtt.password).toBe('correct horse battery staple');
    const shown = loaded.masked();
    for (const s of ['correct horse', 'nut-secret', 'url-secret']) expect(shown).not.toContain(s);
    expect(shown).toContain('mqtts://***@broker:8883');
  });

  it('never echoes a sensitive value in an error', () => {
    const message = problems(
      { MQTT_PASSWORD: 'hunter2', POLL_INTERVAL: 'x' },
      file('e.yaml', 'mqtt:\n  password: 42\n'),
    );
    expect(message).not.toContain('hunter2');
  });

  it('masks credentials in any URL', () => {
    expect(maskUrlCredentials('"wss://u:p@h/x" mqtt://host')).toBe('"wss://***@h/x" mqtt://host');
  });
});

describe('environment names', () => {
  it('follow one rule: the section prefix and the key in SCREAMING_SNAKE_CASE, NUT’s own names as NUT spells them', () => {
    expect(envNameOf('mqtt.baseTopic')).toBe('MQTT_BASE_TOPIC');
    expect(envNameOf('mqtt.stateRefreshInterval')).toBe('MQTT_STATE_REFRESH_INTERVAL');
    expect(envNameOf('homeassistant.statusTopic')).toBe('HA_STATUS_TOPIC');
    expect(envNameOf('init.upsVendorId')).toBe('INIT_UPS_VENDOR_ID');
    expect(envNameOf('supervisor.pollInterval')).toBe('POLL_INTERVAL');
    expect(envNameOf('nut.confPath')).toBe('NUT_CONFPATH');
    expect(envNameOf('nut.driverPath')).toBe('NUT_DRIVER_PATH');
    const names = [...configTable().matchAll(/^\| `([A-Z0-9_]+)`/gm)].map((m) => m[1]);
    expect(new Set(names).size).toBe(names.length);
  });

  it('reads an old name as the new one, naming the old one in errors', () => {
    const { config, notices } = loadConfig({
      env: { INSTCMD_ALLOW: 'beeper.disable', UPS_NAME: 'rack', NUT_REQUEST_TIMEOUT: '7000' },
    });
    expect(config.mqtt.instcmdAllow).toEqual(['beeper.disable']);
    expect(config.init.upsName).toBe('rack');
    expect(config.supervisor.requestTimeout).toBe(7000);
    expect(notices.map((n) => n.level)).toEqual(['info', 'info', 'info']);
    expect(notices[0]?.message).toContain('INSTCMD_ALLOW is the old name of MQTT_INSTCMD_ALLOW');
    expect(problems({ UPS_VENDORID: 'xyz1' })).toContain('init.upsVendorId (env UPS_VENDORID)');
  });

  it('lets the new name win when both are set, with a warning that names both', () => {
    const { config, notices } = loadConfig({
      env: { COMMAND_COOLDOWN: '1000', MQTT_COMMAND_COOLDOWN: '2000' },
    });
    expect(config.mqtt.commandCooldown).toBe(2000);
    expect(notices).toEqual([
      {
        level: 'warn',
        message:
          'COMMAND_COOLDOWN and MQTT_COMMAND_COOLDOWN are both set: MQTT_COMMAND_COOLDOWN wins (COMMAND_COOLDOWN is its old name)',
      },
    ]);
  });

  it('reads STATE_REFRESH and mqtt.stateRefresh in seconds, the new names in milliseconds like every duration', () => {
    expect(loadConfig({ env: {} }).config.mqtt.stateRefreshInterval).toBe(60_000);
    expect(loadConfig({ env: { STATE_REFRESH: '30' } }).config.mqtt.stateRefreshInterval).toBe(30_000);
    expect(
      loadConfig({ env: { MQTT_STATE_REFRESH_INTERVAL: '5000' } }).config.mqtt.stateRefreshInterval,
    ).toBe(5000);
    const old = file('refresh.yaml', 'mqtt:\n  stateRefresh: 120\n');
    const loaded = loadConfig({ env: {}, configFile: old });
    expect(loaded.config.mqtt.stateRefreshInterval).toBe(120_000);
    expect(loaded.notices[0]?.message).toContain(
      'mqtt.stateRefresh is the old name of mqtt.stateRefreshInterval',
    );
    const both = file('both.yaml', 'mqtt:\n  stateRefresh: 120\n  stateRefreshInterval: 9000\n');
    expect(loadConfig({ env: {}, configFile: both }).config.mqtt.stateRefreshInterval).toBe(9000);
    expect(problems({ STATE_REFRESH: '0' })).toContain(
      'mqtt.stateRefreshInterval (env STATE_REFRESH, in seconds)',
    );
  });
});
