// The CLI as a user runs it: exit codes, messages that name the bad key or path, a clean SIGTERM.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_CLI, waitUntilReady } from '../fixtures/agentCli.js';
import {
  createNutLab,
  NUT_DRIVER_DIR,
  type NutLab,
  processAlive,
  processesWithConfPath,
  sleep,
  waitFor,
} from '../fixtures/nutLab.js';
import { ON_NUT } from '../fixtures/nutVersion.js';

const CLI = AGENT_CLI;

function cli(args: string[], env: Record<string, string>) {
  return execa('node', [...CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    extendEnv: false,
    reject: false,
    timeout: 30_000,
  });
}

const labProcesses = (lab: NutLab): number[] => processesWithConfPath(lab.confPath);

describe(`nut-mqtt CLI, ${ON_NUT}`, () => {
  const labs: NutLab[] = [];
  const children: ResultPromise[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    for (const lab of labs.splice(0)) await lab.stop();
  });
  const newLab = async () => {
    const lab = await createNutLab({ upses: [{ name: 'ups1' }, { name: 'ups2' }] });
    labs.push(lab);
    return lab;
  };
  const envFor = (lab: NutLab, extra: Record<string, string> = {}) => ({
    ...lab.env,
    NUT_USER: 'root',
    ...extra,
  });

  it('check-config prints the effective settings and the UPSes from ups.conf, exit 0', async () => {
    const lab = await newLab();
    const r = await cli(['check-config'], envFor(lab));
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('configuration OK');
    expect(r.stdout).toContain(`"confPath": "${lab.confPath}"`);
    expect(r.stdout).toMatch(/UPS ups1: dummy-ups on ups1\.dev/);
    expect(r.stdout).toContain(`127.0.0.1:${lab.port}`);
  });

  it.each([
    [{ POLL_INTERVAL: 'soon' }, /supervisor\.pollInterval \(env POLL_INTERVAL\): must be a whole number/],
    [{ POLL_INTERVAL: '5' }, /POLL_INTERVAL.*from 100/],
    [{ LOG_LEVEL: 'loud' }, /log\.level \(env LOG_LEVEL\)/],
    [{ NUT_USER: 'root; rm -rf /' }, /nut\.user \(env NUT_USER\)/],
    [{ NUT_STATEPATH: 'relative/path' }, /nut\.statePath \(env NUT_STATEPATH\): must be an absolute path/],
    [
      { NUT_MQTT_CONFIG: '/nonexistent/nut-mqtt.yaml' },
      /config file \/nonexistent\/nut-mqtt\.yaml: not found/,
    ],
  ])('rejects bad settings %o with exit 2 and names the key', async (extra, message) => {
    const lab = await newLab();
    const r = await cli(['run'], envFor(lab, extra));
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(labProcesses(lab)).toEqual([]);
  });

  it('rejects unknown keys in a YAML config file, naming each', async () => {
    const lab = await newLab();
    const file = join(lab.dir, 'agent.yaml');
    writeFileSync(file, 'supervisor:\n  pollInterval: 1000\n  pollIntervall: 2000\nmqt:\n  url: x\n');
    const r = await cli(['check-config', '--config', file], envFor(lab));
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('supervisor.pollIntervall: unknown key');
    expect(r.stderr).toContain('mqt.url: unknown key');
  });

  it('takes settings from a config file, with the environment overriding it', async () => {
    const lab = await newLab();
    const file = join(lab.dir, 'agent.json');
    writeFileSync(file, JSON.stringify({ supervisor: { pollInterval: 1500, staleGrace: 0 } }));
    const r = await cli(['check-config', '--config', file], envFor(lab, { POLL_INTERVAL: '700' }));
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('"pollInterval": 700');
    expect(r.stdout).toContain('"staleGrace": 0');
  });

  it('names a missing NUT config folder, exit 2', async () => {
    const r = await cli(['run'], {
      NUT_CONFPATH: '/nonexistent/nut-etc',
      NUT_STATEPATH: '/tmp',
      NUT_USER: 'root',
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('/nonexistent/nut-etc does not exist');
  });

  it('names the UPS and key of a bad ups.conf, exit 2', async () => {
    const lab = await newLab();
    writeFileSync(join(lab.confPath, 'ups.conf'), '[ups1]\n  port = ups1.dev\n');
    const r = await cli(['run'], envFor(lab));
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/ups\.conf.*ups1.*driver|driver.*ups1/);
  });

  it('names a driver binary that does not exist, exit 2', async () => {
    const lab = await newLab();
    writeFileSync(join(lab.confPath, 'ups.conf'), '[ups1]\n  driver = no-such-driver\n  port = auto\n');
    const r = await cli(['run'], envFor(lab));
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`[ups1] driver: ${NUT_DRIVER_DIR}/no-such-driver does not exist`);
  });

  it('rejects unknown arguments with exit 2', async () => {
    const lab = await newLab();
    const r = await cli(['frobnicate'], envFor(lab));
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('unknown argument "frobnicate"');
  });

  it('runs, removes a stale driver socket first, and on SIGTERM leaves no NUT process behind (exit 0)', async () => {
    const lab = await newLab();
    // A SIGKILLed -F driver leaves its socket file behind.
    const stalePid = await lab.startDriver('ups1');
    process.kill(stalePid, 'SIGKILL');
    await waitFor('stale driver gone', () => (processAlive(stalePid) ? undefined : true));
    expect(existsSync(join(lab.statePath, 'dummy-ups-ups1'))).toBe(true);

    const child = cli(['run'], envFor(lab, { LOG_LEVEL: 'info' }));
    children.push(child);
    const output = await waitUntilReady(child, 2);
    expect(output()).toContain('removed stale driver socket');
    expect(await lab.waitForStatus('ups1', (s) => s === 'OL')).toBe('OL');
    const running = labProcesses(lab).filter((pid) => pid !== child.pid);
    expect(running.length).toBe(3); // upsd + 2 drivers

    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(0);
    await sleep(100);
    expect(labProcesses(lab)).toEqual([]);
    for (const pid of running) expect(processAlive(pid)).toBe(false);
    // Logs are JSON lines with the UPS and the child's pid as fields.
    const started = output()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'started dummy-ups');
    expect(started).toMatchObject({ ups: expect.any(String), childPid: expect.any(Number) });
  });

  it('stops cleanly on Ctrl-C in a terminal (SIGINT to the whole process group), recovering nothing', async () => {
    const lab = await newLab();
    // detached: the agent leads its own process group, as a shell's foreground job does.
    const child = execa('node', [...CLI, 'run'], {
      env: { PATH: process.env.PATH ?? '', ...envFor(lab, { LOG_LEVEL: 'info', MQTT_URL: '' }) },
      extendEnv: false,
      reject: false,
      detached: true,
    });
    children.push(child);
    const output = await waitUntilReady(child, 2);
    const running = labProcesses(lab).filter((pid) => pid !== child.pid);
    process.kill(-(child.pid as number), 'SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(0);
    // NUT runs in its own process group: the terminal's SIGINT reached only the agent, which stopped NUT in order.
    expect(output()).not.toMatch(/exited unexpectedly|recovering|restarting upsd/);
    await sleep(100);
    expect(labProcesses(lab)).toEqual([]);
    for (const pid of running) expect(processAlive(pid)).toBe(false);
  });

  it('refuses to start when a driver it did not start already serves a UPS (exit 1)', async () => {
    const lab = await newLab();
    await lab.startDriver('ups2');
    const r = await cli(['run'], envFor(lab));
    expect(r.exitCode).toBe(1);
    expect(r.stderr + r.stdout).toMatch(/already running/);
    // Only the lab's own driver runs; the agent started nothing.
    expect(labProcesses(lab).length).toBe(1);
  });
});
