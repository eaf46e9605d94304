// The health and metrics listener, and `nut-mqtt health` / `init-config` as a user runs them.
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentUnderTest, startAgent } from '../fixtures/agent.js';
import { AGENT_CLI } from '../fixtures/agentCli.js';
import { createNutLab, freePort, type NutLab } from '../fixtures/nutLab.js';

const CLI = AGENT_CLI;

describe('health and metrics', () => {
  let lab: NutLab;
  let agent: AgentUnderTest;
  let port: number;

  beforeAll(async () => {
    lab = await createNutLab({ upses: [{ name: 'good' }, { name: 'bad', port: 'missing.dev' }] });
    port = await freePort();
    agent = await startAgent(lab, {
      timings: { backoffInitial: 100, breakerRestarts: 2, failedRetry: 600_000 },
      env: { HTTP_PORT: String(port), HTTP_HOST: '127.0.0.1' },
    });
    await agent.waitForEvent('ready', (e) => e.ups === 'good');
    await agent.waitForEvent('recovery-failed', (e) => e.ups === 'bad' && e.circuitOpen);
  });

  afterAll(async () => {
    await agent?.stop();
    await lab?.stop();
  });

  it('answers 503 naming the failed UPS, and `nut-mqtt health` exits 1', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(response.status).toBe(503);
    const body = (await response.json()) as {
      ok: boolean;
      reasons: string[];
      ups: Record<string, string>;
      upsd: string;
    };
    expect(body).toMatchObject({ ok: false, upsd: 'up', ups: { good: 'ok', bad: 'failed' } });
    expect(body.reasons).toEqual(['UPS bad is failed']);
    const cli = await execa('node', [...CLI, 'health'], { env: { HTTP_PORT: String(port) }, reject: false });
    expect(cli.exitCode).toBe(1);
    expect(cli.stdout).toContain('UPS bad is failed');
  });

  it('exports Prometheus metrics for NUT variables, supervision state and restarts', async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toContain('nut_battery_charge_percent{ups="good"} 100');
    expect(text).toContain('nut_ups_status{ups="good",flag="online"} 1');
    expect(text).toContain('nut_mqtt_supervisor_state{ups="bad",state="failed"} 1');
    expect(text).toMatch(/nut_mqtt_driver_restarts_total\{ups="bad",reason="crashed"\} 2/);
    expect(text).toContain('nut_mqtt_upsd_up 1');
    expect(text).toContain('nut_mqtt_mqtt_connected 0');
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
  });

  it('answers 200 when upsd answers and every UPS is ok, and `nut-mqtt health` exits 0', async () => {
    const soloLab = await createNutLab({ upses: [{ name: 'solo' }] });
    const soloPort = await freePort();
    const solo = await startAgent(soloLab, { env: { HTTP_PORT: String(soloPort) } });
    try {
      await solo.waitForEvent('ready');
      await new Promise((r) => setTimeout(r, 1200)); // one poll cycle, so upsd has answered
      const cli = await execa('node', [...CLI, 'health'], {
        env: { HTTP_PORT: String(soloPort) },
        reject: false,
      });
      expect(cli.exitCode).toBe(0);
      expect(JSON.parse(cli.stdout)).toMatchObject({
        ok: true,
        upsd: 'up',
        ups: { solo: 'ok' },
        reasons: [],
      });
    } finally {
      await solo.stop();
      await soloLab.stop();
    }
  });
});

describe('nut-mqtt init-config', () => {
  it('writes a working default configuration that check-config accepts, without printing the password', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nm-init-'));
    const env = {
      PATH: process.env.PATH ?? '',
      NUT_CONFPATH: join(dir, 'etc'),
      NUT_STATEPATH: join(dir, 'st'),
      UPS_NAME: 'cp1500',
      UPS_DRIVER: 'dummy-ups',
      UPS_PORT: 'cp1500.dev',
      NUT_PASSWORD: 'monitor-secret',
    };
    const init = await execa('node', [...CLI, 'init-config'], { env, extendEnv: false });
    expect(init.stdout).toContain(`wrote ${join(dir, 'etc', 'ups.conf')}`);
    expect(init.stdout + init.stderr).not.toContain('monitor-secret');
    expect(readFileSync(join(dir, 'etc', 'upsd.users'), 'utf8')).toContain('monitor-secret');
    const check = await execa('node', [...CLI, 'check-config'], { env, extendEnv: false, reject: false });
    expect(check.exitCode).toBe(0);
    expect(check.stdout).toContain('UPS cp1500: dummy-ups on cp1500.dev');
    // upsd listens on 0.0.0.0:3493; the agent reaches it on loopback.
    expect(check.stdout).toContain('127.0.0.1:3493');
    expect(check.stdout).not.toContain('monitor-secret');
    const again = await execa('node', [...CLI, 'init-config'], { env, extendEnv: false });
    expect(again.stdout).toContain('kept');
    expect(again.stdout).not.toContain('wrote');
  });
});
