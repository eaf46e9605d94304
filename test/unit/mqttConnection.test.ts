import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import {
  clientOptions,
  defaultClientId,
  describeFailure,
  MqttConnection,
} from '../../src/mqtt/connection.js';

function settings(env: Record<string, string> = {}) {
  return loadConfig({ env: { NUT_CONFPATH: '/tmp', ...env } }).config.mqtt;
}

describe('MQTT connection settings', () => {
  it('derives a stable client id from the base topic and host name, in a safe alphabet', () => {
    expect(defaultClientId('nut', 'nas')).toBe('nut-mqtt_nut_nas');
    expect(defaultClientId('nut', 'my host.local')).toBe('nut-mqtt_nut_my-host-local');
    expect(defaultClientId('nut', '')).toBe('nut-mqtt_nut_host');
  });

  it('builds MQTT.js options: MQTT 5 by default, last will, credentials, TLS files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nm-tls-'));
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(dir, f), `-- ${f} --`);
    const config = settings({
      MQTT_USERNAME: 'agent',
      MQTT_PASSWORD: 'secret',
      MQTT_CA_FILE: join(dir, 'ca.pem'),
      MQTT_CERT_FILE: join(dir, 'cert.pem'),
      MQTT_KEY_FILE: join(dir, 'key.pem'),
      MQTT_REJECT_UNAUTHORIZED: 'no',
    });
    const options = clientOptions(config, {
      willTopic: 'nut/bridge/state',
      hostname: 'nas',
      reconnectPeriod: 1000,
    });
    expect(options).toMatchObject({
      protocolVersion: 5,
      clientId: 'nut-mqtt_nut_nas',
      username: 'agent',
      password: 'secret',
      rejectUnauthorized: false,
      reconnectPeriod: 1000,
      reconnectOnConnackError: true,
      will: { topic: 'nut/bridge/state', qos: 1, retain: true },
    });
    expect(String(options.will?.payload)).toBe('offline');
    expect(String(options.ca)).toBe('-- ca.pem --');
    expect(String(options.cert)).toBe('-- cert.pem --');
    expect(String(options.key)).toBe('-- key.pem --');

    const v4 = clientOptions(settings({ MQTT_PROTOCOL_VERSION: '4', MQTT_CLIENT_ID: 'mine' }), {
      willTopic: 'x/bridge/state',
      hostname: 'nas',
      reconnectPeriod: 1000,
    });
    expect(v4).toMatchObject({ protocolVersion: 4, clientId: 'mine' });
    expect(v4).not.toHaveProperty('username');
    expect(v4).not.toHaveProperty('properties');
  });

  it('names MQTT_USERNAME and MQTT_PASSWORD for refused credentials, never the password', () => {
    const config = settings({ MQTT_USERNAME: 'agent', MQTT_PASSWORD: 'hunter2' });
    for (const code of [4, 5, 134, 135]) {
      const f = describeFailure(
        Object.assign(new Error('Connection refused: Not authorized'), { code }),
        config,
      );
      expect(f.level).toBe('error');
      expect(f.key).toBe(`connack-${code}`);
      expect(f.message).toMatch(/MQTT_USERNAME and MQTT_PASSWORD/);
      expect(f.message).toContain('user "agent"');
      expect(f.message).not.toContain('hunter2');
    }
    const refused = describeFailure(
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1883'), { code: 'ECONNREFUSED' }),
      config,
    );
    expect(refused).toMatchObject({ key: 'ECONNREFUSED', level: 'warn' });
    const tls = describeFailure(
      Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
      config,
    );
    expect(tls.level).toBe('error');
    expect(tls.message).toContain('MQTT_CA_FILE');
  });
});

describe('MQTT connection retries', () => {
  it('backs off 1×, 2×, 4× … up to the cap, and logs the failure once', async () => {
    // A port that refuses connections: listen, note the port, close.
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));

    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const connection = new MqttConnection({
      config: settings({ MQTT_URL: `mqtt://127.0.0.1:${port}` }),
      logger: pino({ level: 'info' }, sink),
      willTopic: 'nut/bridge/state',
      hostname: 'test',
      backoff: { initialMs: 20, maxMs: 80 },
    });
    await connection.start();
    const periods: number[] = [];
    const deadline = Date.now() + 5000;
    while (periods.length < 6 && Date.now() < deadline) {
      const period = connection.mqttClient?.options.reconnectPeriod as number;
      if (period !== periods.at(-1)) periods.push(period);
      await new Promise((r) => setTimeout(r, 2));
      if (periods.at(-1) === 80 && periods.length >= 3) break;
    }
    await new Promise((r) => setTimeout(r, 300)); // several more retries at the cap
    expect(periods.slice(0, 3)).toEqual([20, 40, 80]);
    expect(connection.connected).toBe(false);
    expect(await connection.publish('nut/x', 'y', { qos: 1, retain: false })).toBe(false);
    await connection.stop();
    const failures = lines.filter((l) => l.includes('cannot reach the MQTT broker'));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toContain('ECONNREFUSED');
  });
});
