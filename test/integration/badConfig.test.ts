// At least 20 bad configurations, each run as a user would: exit 2 before anything starts, a message that names
// the key or the file, and no secret value anywhere in the output.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_CLI } from '../fixtures/agentCli.js';
import { createNutLab, type NutLab } from '../fixtures/nutLab.js';

const CLI = AGENT_CLI;
const MQTT_SECRET = 'mqtt-Secret-7f3a91';
const NUT_SECRET = 'nut-Secret-c0ffee';

interface Case {
  name: string;
  env?: Record<string, string>;
  /** Prepare files in the lab; may return env to add. */
  prepare?: (lab: NutLab) => Record<string, string> | undefined;
  expected: RegExp;
}

const cases: Case[] = [
  {
    name: 'unknown key in a YAML file',
    prepare: (lab) => cfg(lab, 'a.yaml', 'supervisor:\n  pollIntervall: 100\n'),
    expected: /supervisor\.pollIntervall: unknown key/,
  },
  {
    name: 'wrong type in a JSON file',
    prepare: (lab) => cfg(lab, 'b.json', '{"supervisor":{"pollInterval":"fast"}}'),
    expected: /supervisor\.pollInterval/,
  },
  {
    name: 'broken YAML',
    prepare: (lab) => cfg(lab, 'c.yaml', 'supervisor: [unclosed\n'),
    expected: /config file .*c\.yaml: cannot be read/,
  },
  {
    name: 'config file not found',
    env: { NUT_MQTT_CONFIG: '/nonexistent/nut-mqtt.yaml' },
    expected: /\/nonexistent\/nut-mqtt\.yaml: not found/,
  },
  { name: 'port out of range', env: { HTTP_PORT: '70000' }, expected: /http\.port \(env HTTP_PORT\)/ },
  {
    name: 'poll interval 0',
    env: { POLL_INTERVAL: '0' },
    expected: /supervisor\.pollInterval \(env POLL_INTERVAL\)/,
  },
  { name: 'bad log level', env: { LOG_LEVEL: 'loud' }, expected: /log\.level \(env LOG_LEVEL\)/ },
  {
    name: 'broker URL with a wrong scheme',
    env: { MQTT_URL: 'ftp://broker' },
    expected: /mqtt\.url \(env MQTT_URL\)/,
  },
  {
    name: 'base topic with a separator',
    env: { MQTT_BASE_TOPIC: 'a/b' },
    expected: /mqtt\.baseTopic \(env MQTT_BASE_TOPIC\)/,
  },
  { name: 'MQTT protocol version 3', env: { MQTT_PROTOCOL_VERSION: '3' }, expected: /mqtt\.protocolVersion/ },
  {
    name: 'instant command list with junk',
    env: { INSTCMD_ALLOW: 'load.off;reboot' },
    expected: /mqtt\.instcmdAllow \(env INSTCMD_ALLOW\)/,
  },
  {
    name: 'a switch that is neither on nor off',
    env: { HA_DISCOVERY: 'perhaps' },
    expected: /homeassistant\.discovery \(env HA_DISCOVERY\)/,
  },
  {
    name: 'NUT user with shell characters',
    env: { NUT_USER: 'root;id' },
    expected: /nut\.user \(env NUT_USER\)/,
  },
  {
    name: 'HTTP host that is not an address',
    env: { HTTP_HOST: 'localhost' },
    expected: /http\.host \(env HTTP_HOST\)/,
  },
  {
    name: 'USB vendor id that is not hex',
    env: { UPS_VENDORID: 'xyz1' },
    expected: /init\.upsVendorId \(env UPS_VENDORID\)/,
  },
  {
    name: 'unreadable MQTT password file',
    env: { MQTT_PASSWORD_FILE: '/nonexistent/mqtt_password' },
    expected: /mqtt\.passwordFile \(env MQTT_PASSWORD_FILE\): \/nonexistent\/mqtt_password cannot be read/,
  },
  {
    name: 'unreadable NUT password file',
    env: { NUT_PASSWORD_FILE: '/nonexistent/nut_password' },
    expected: /nut\.passwordFile \(env NUT_PASSWORD_FILE\)/,
  },
  {
    name: 'TLS CA file missing',
    env: { MQTT_CA_FILE: '/nonexistent/ca.pem' },
    expected: /mqtt\.caFile \(env MQTT_CA_FILE\): \/nonexistent\/ca\.pem cannot be read/,
  },
  {
    name: 'client certificate without key',
    env: { MQTT_CERT_FILE: '/etc/hostname' },
    expected: /set both or neither/,
  },
  {
    name: 'missing NUT config folder',
    env: { NUT_CONFPATH: '/nonexistent/nut' },
    expected: /\/nonexistent\/nut does not exist/,
  },
  {
    name: 'missing ups.conf',
    prepare: (lab) => write(lab, 'ups.conf', null),
    expected: /ups\.conf: not found/,
  },
  {
    name: 'ups.conf with a driver that does not exist',
    prepare: (lab) => write(lab, 'ups.conf', '[u]\n driver = nosuch-ups\n port = auto\n'),
    expected: /\[u\] driver: \/lib\/nut\/nosuch-ups does not exist/,
  },
  {
    name: 'ups.conf section without a port',
    prepare: (lab) => write(lab, 'ups.conf', '[u]\n driver = dummy-ups\n'),
    expected: /ups\.conf.*port/,
  },
  {
    name: 'ups.conf garbage line',
    prepare: (lab) =>
      write(lab, 'ups.conf', '[u]\n driver = dummy-ups\n port = u.dev\n this is = not = valid\n'),
    expected: /ups\.conf:4/,
  },
  {
    name: 'upsd.conf LISTEN with a bad port',
    prepare: (lab) => write(lab, 'upsd.conf', 'LISTEN 127.0.0.1 99999\n'),
    expected: /upsd\.conf:1.*LISTEN/,
  },
  {
    name: 'upsd binary that does not exist',
    env: { NUT_UPSD_PATH: '/nonexistent/upsd' },
    expected: /nut\.upsdPath \(env NUT_UPSD_PATH\): \/nonexistent\/upsd/,
  },
  {
    name: 'driver folder that does not exist',
    env: { NUT_DRIVER_PATH: '/nonexistent/drivers' },
    expected: /nut\.driverPath \(env NUT_DRIVER_PATH\): folder \/nonexistent\/drivers does not exist/,
  },
];

/** Replaces (or, with null, removes) one of the lab's NUT files; adds no environment. */
function write(lab: NutLab, name: string, text: string | null): undefined {
  const path = join(lab.confPath, name);
  if (text === null) rmSync(path, { force: true });
  else writeFileSync(path, text);
  return undefined;
}

function cfg(lab: NutLab, name: string, text: string): Record<string, string> {
  const dir = join(lab.dir, 'cfg');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), text);
  return { NUT_MQTT_CONFIG: join(dir, name) };
}

describe('bad configuration', () => {
  let labs: NutLab[] = [];
  beforeAll(() => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });
  afterAll(async () => {
    for (const lab of labs) await lab.stop();
    labs = [];
  });

  it.each(cases)(
    '$name: exit 2, names the key or file, shows no secret',
    async ({ env, prepare, expected }) => {
      const lab = await createNutLab({ upses: [{ name: 'u' }] });
      labs.push(lab);
      const extra = prepare?.(lab) ?? {};
      const result = await execa('node', [...CLI, 'run'], {
        env: {
          PATH: process.env.PATH ?? '',
          ...lab.env,
          NUT_USER: 'root',
          MQTT_URL: `mqtt://agent:${MQTT_SECRET}@127.0.0.1:1`,
          MQTT_PASSWORD: MQTT_SECRET,
          NUT_USERNAME: 'admin',
          NUT_PASSWORD: NUT_SECRET,
          ...extra,
          ...env,
        },
        extendEnv: false,
        reject: false,
        timeout: 20_000,
      });
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toMatch(expected);
      const output = result.stdout + result.stderr;
      expect(output).not.toContain(MQTT_SECRET);
      expect(output).not.toContain(NUT_SECRET);
      // Nothing was started: the state folder holds no driver socket.
      expect(result.stdout).not.toContain('started');
    },
  );
});
