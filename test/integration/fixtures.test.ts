// The harness everybody's tests stand on: a NUT lab, a Mosquitto broker, the Megatec/Q1 simulator, the leak check
// and the cleanup registry, checked against the real programs. Waits are generous and nothing asserts on timing.
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseUpsConf, parseUpsdConf } from '../../src/nut/confParser.js';
import { Cleanup } from '../fixtures/cleanup.js';
import { assertNothingLeft, processesWithConfPath } from '../fixtures/labProcs.js';
import { type Broker, startMosquitto } from '../fixtures/mosquitto.js';
import {
  createNutLab,
  cyberPowerDev,
  cyberPowerSeq,
  killPid,
  NUT_DRIVER_DIR,
  type NutLab,
  processAlive,
} from '../fixtures/nutLab.js';
import { ON_NUT } from '../fixtures/nutVersion.js';
import { type Q1Simulator, startQ1Simulator } from '../fixtures/q1Simulator.js';

describe(`NUT lab (dummy-ups), ${ON_NUT}`, () => {
  let lab: NutLab | undefined;
  afterAll(async () => {
    await lab?.stop();
  });

  it('writes an isolated config, runs upsd and drivers, sees .dev edits and cleans up completely', async () => {
    lab = await createNutLab({
      upses: [
        { name: 'ups1', desc: 'first "lab" UPS' },
        { name: 'ups2', dev: cyberPowerDev(2, { 'ups.load': 25 }) },
        { name: 'seq1', seq: cyberPowerSeq(2) },
      ],
      maxAge: 5,
    });
    // The files NUT reads, checked with our own parser.
    const upsConf = parseUpsConf(await readFile(join(lab.confPath, 'ups.conf'), 'utf8'));
    expect(upsConf.global.user).toBe('root');
    expect(upsConf.upses.map((u) => [u.name, u.driver, u.port])).toEqual([
      ['ups1', 'dummy-ups', 'ups1.dev'],
      ['ups2', 'dummy-ups', 'ups2.dev'],
      ['seq1', 'dummy-ups', 'seq1.seq'],
    ]);
    expect(upsConf.upses[0]?.desc).toBe('first "lab" UPS');
    const upsd = parseUpsdConf(await readFile(join(lab.confPath, 'upsd.conf'), 'utf8'));
    expect(upsd).toMatchObject({ listen: [{ host: '127.0.0.1', port: lab.port }], maxAge: 5 });
    expect(statSync(join(lab.confPath, 'upsd.conf')).mode & 0o777).toBe(0o600);
    expect(statSync(join(lab.confPath, 'upsd.users')).mode & 0o777).toBe(0o600);
    expect(lab.env).toEqual({
      NUT_CONFPATH: lab.confPath,
      NUT_STATEPATH: lab.statePath,
      NUT_ALTPIDPATH: lab.statePath,
      DATA_PATH: join(lab.dir, 'data'),
    });

    const drivers = [
      await lab.startDriver('ups1'),
      await lab.startDriver('ups2'),
      await lab.startDriver('seq1'),
    ];
    const upsdPid = await lab.startUpsd();
    expect(lab.pids().sort()).toEqual([...drivers, upsdPid].sort());

    expect(await lab.waitForStatus('ups1', (s) => s === 'OL')).toBe('OL');
    await lab.waitForStatus('ups2', (s) => s === 'OL');
    const vars = await lab.upsc('ups2');
    expect(vars).toMatchObject({
      'device.serial': 'CTHGN000002',
      'ups.load': '25',
      'driver.name': 'dummy-ups',
    });

    // dummy-ups re-reads the .dev file when its mtime (in whole seconds) changes; two quick edits must both land.
    await lab.writeDev('ups1', { 'ups.status': 'OB DISCHRG', 'battery.charge': 80 });
    await lab.writeDev('ups1', { 'battery.charge': 55 });
    await lab.waitForStatus('ups1', (s) => s === 'OB DISCHRG');
    await expect
      .poll(async () => (await lab?.upsc('ups1'))?.['battery.charge'], { timeout: 15_000, interval: 250 })
      .toBe('55');

    // The .seq UPS walks OL → OB DISCHRG → OB DISCHRG LB by itself.
    await lab.waitForStatus('seq1', (s) => s.startsWith('OB'), 30_000);

    // A SIGKILLed driver leaves its socket file behind; startDriver must wait for the new one.
    process.kill(drivers[1] as number, 'SIGKILL');
    await lab.waitForUpscError('ups2', /Driver not connected/);
    const again = await lab.startDriver('ups2');
    await lab.waitForStatus('ups2', (s) => s === 'OL');

    const all = [...drivers, upsdPid, again];
    await lab.stop();
    expect(all.filter(processAlive)).toEqual([]);
    expect(lab.pids()).toEqual([]);
    expect(existsSync(lab.dir)).toBe(false);
    await lab.stop(); // idempotent
  });
});

/** Publishes one retained message and reads it back with a fresh subscriber (no subscribe/publish race). */
async function roundTrip(broker: Broker, extra: string[] = []): Promise<string> {
  const common = ['-h', '127.0.0.1', '-p', String(broker.port), ...extra];
  const topic = `nm/test/${Math.random().toString(36).slice(2)}`;
  await execa('mosquitto_pub', [...common, '-t', topic, '-m', 'hello', '-r']);
  const sub = await execa('mosquitto_sub', [...common, '-t', topic, '-C', '1', '-W', '10']);
  return sub.stdout.trim();
}

describe('Mosquitto fixture', () => {
  const brokers: Broker[] = [];
  afterEach(async () => {
    for (const b of brokers.splice(0)) {
      const pid = b.pid;
      await b.stop();
      expect(processAlive(pid)).toBe(false);
      expect(existsSync(b.dir)).toBe(false);
    }
  });

  it('anonymous broker: round trip, restart on the same port', async () => {
    const broker = await startMosquitto();
    brokers.push(broker);
    expect(broker.url).toBe(`mqtt://127.0.0.1:${broker.port}`);
    expect(await roundTrip(broker)).toBe('hello');
    const before = broker.pid;
    await broker.restart();
    expect(broker.pid).not.toBe(before);
    expect(processAlive(before)).toBe(false);
    expect(await roundTrip(broker)).toBe('hello');
  });

  it('password file: right password works, wrong password and anonymous get rc 5', async () => {
    const broker = await startMosquitto({ users: [{ username: 'agent', password: 's3cret pass' }] });
    brokers.push(broker);
    expect(await roundTrip(broker, ['-u', 'agent', '-P', 's3cret pass'])).toBe('hello');
    const pub = (auth: string[]) =>
      execa('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(broker.port), ...auth, '-t', 'x', '-m', 'y'], {
        reject: false,
      });
    expect((await pub(['-u', 'agent', '-P', 'wrong'])).exitCode).toBe(5);
    expect((await pub([])).exitCode).toBe(5);
  });

  it('TLS: clients that trust the test CA connect to 127.0.0.1 (IP SAN)', async () => {
    const broker = await startMosquitto({ tls: true });
    brokers.push(broker);
    expect(broker.url).toBe(`mqtts://127.0.0.1:${broker.port}`);
    const caFile = broker.caFile as string;
    expect(await roundTrip(broker, ['--cafile', caFile])).toBe('hello');
    // Plain MQTT against the TLS listener fails.
    const plain = await execa(
      'mosquitto_pub',
      ['-h', '127.0.0.1', '-p', String(broker.port), '-t', 'x', '-m', 'y'],
      {
        reject: false,
        timeout: 15_000,
      },
    );
    expect(plain.exitCode).not.toBe(0);
    // The mqtt package (what the agent uses) verifies the certificate against the CA too.
    const client = await mqtt.connectAsync(broker.url, { ca: await readFile(caFile), reconnectPeriod: 0 });
    await client.endAsync();
  });
});

describe(`Q1 simulator with blazer_ser, ${ON_NUT}`, () => {
  let sim: Q1Simulator;
  let simDir: string;
  let lab: NutLab | undefined;
  beforeAll(async () => {
    simDir = await mkdtemp(join(tmpdir(), 'nm-q1-'));
    sim = await startQ1Simulator(simDir);
  });
  afterEach(async () => {
    await lab?.stop();
    lab = undefined;
  });
  afterAll(async () => {
    await sim.stop();
    expect(existsSync(sim.ttyPath)).toBe(false);
    await rm(simDir, { recursive: true, force: true });
  });
  it('OL, OB, OB LB, stale while muted with the driver alive, recovery, instant commands', async () => {
    lab = await createNutLab({ upses: [{ name: 'q1', driver: 'blazer_ser', port: sim.ttyPath }] });
    const driver = await lab.startDriver('q1');
    await lab.startUpsd();
    await lab.waitForStatus('q1', (s) => s === 'OL');
    expect(await lab.upsc('q1')).toMatchObject({
      'device.mfr': 'CyberPower',
      'device.model': 'CP1500PFCL',
      'driver.name': 'blazer_ser',
      'ups.type': 'offline / line interactive',
    });

    sim.setOnBattery(true);
    await lab.waitForStatus('q1', (s) => s === 'OB');
    sim.setLowBattery(true);
    await lab.waitForStatus('q1', (s) => s === 'OB LB');
    sim.setOnBattery(false);
    sim.setLowBattery(false);
    await lab.waitForStatus('q1', (s) => s === 'OL');

    sim.setMuted(true);
    await lab.waitForUpscError('q1', /Data stale/, 40_000);
    expect(processAlive(driver)).toBe(true);
    sim.setMuted(false);
    await lab.waitForStatus('q1', (s) => s === 'OL', 30_000);

    const cmd = await execa(
      'upscmd',
      [
        '-u',
        lab.adminUser.username,
        '-p',
        lab.adminUser.password,
        `q1@127.0.0.1:${lab.port}`,
        'beeper.toggle',
      ],
      { all: true },
    );
    expect(cmd.all).toMatch(/^OK$/m); // upscmd prints its OK on stderr
    await expect.poll(() => sim.commands, { timeout: 10_000 }).toContain('Q');
    expect(sim.commands).not.toContain('Q1');

    // The pty outlives the driver: a restarted driver talks to the same simulator.
    process.kill(driver, 'SIGKILL');
    await lab.waitForUpscError('q1', /Driver not connected/);
    await lab.startDriver('q1');
    await lab.waitForStatus('q1', (s) => s === 'OL');
    expect(sim.socatRestarts).toBe(0);
  }, 120_000);

  it('blazer_ser started while the UPS is silent gives up with exit code 1', async () => {
    lab = await createNutLab({ upses: [{ name: 'q1', driver: 'blazer_ser', port: sim.ttyPath }] });
    sim.setMuted(true);
    const r = await execa(join(NUT_DRIVER_DIR, 'blazer_ser'), ['-a', 'q1', '-F', '-u', 'root'], {
      env: lab.env,
      reject: false,
      all: true,
      timeout: 60_000,
    });
    sim.setMuted(false);
    expect(r.exitCode).toBe(1);
    expect(r.all).toContain('No supported UPS detected');
  }, 90_000);

  it('socat exits when the TCP side drops; the simulator restarts it behind the same tty path', async () => {
    lab = await createNutLab({ upses: [{ name: 'q1', driver: 'blazer_ser', port: sim.ttyPath }] });
    await lab.startUpsd();
    const first = await lab.startDriver('q1');
    await lab.waitForStatus('q1', (s) => s === 'OL');
    const restarts = sim.socatRestarts;
    sim.dropConnection();
    await expect.poll(() => sim.socatRestarts, { timeout: 10_000 }).toBe(restarts + 1);
    // The running driver still holds the old, now dead pty; a new driver instance opens the new one.
    await killPid(first);
    await lab.startDriver('q1');
    await lab.waitForStatus('q1', (s) => s === 'OL');
  }, 90_000);
});

describe('the leak check and the cleanup registry', () => {
  it('finds a process by its NUT_CONFPATH, kills it by pid and reports it; a clean lab passes', async () => {
    const confPath = join(tmpdir(), `nm-leak-${process.pid}`); // only compared, never created
    const stray = execa('sleep', ['60'], { env: { NUT_CONFPATH: confPath }, reject: false });
    const pid = stray.pid as number;
    await expect.poll(() => processesWithConfPath(confPath)).toEqual([pid]);
    await expect(assertNothingLeft(confPath)).rejects.toThrow(`pid ${pid}`);
    await stray;
    expect(processAlive(pid)).toBe(false);
    await assertNothingLeft(confPath);
  });

  it('runs steps newest first, past a failing or stuck one, and reports the failure', async () => {
    const warnings: string[] = [];
    const cleanup = new Cleanup(200, (line) => warnings.push(line));
    const ran: string[] = [];
    cleanup.add('first', () => void ran.push('first'));
    cleanup.add('stuck', () => new Promise<void>(() => undefined));
    cleanup.add('failing', () => {
      throw new Error('boom');
    });
    const removed = cleanup.add('removed', () => void ran.push('removed'));
    cleanup.add('last', () => void ran.push('last'));
    removed();
    await expect(cleanup.runOrThrow()).rejects.toThrow('boom');
    expect(ran).toEqual(['last', 'first']);
    expect(warnings).toEqual([
      'cleanup: "failing" failed: boom',
      'cleanup: "stuck" did not finish within 200 ms; moving on',
    ]);
    expect(await cleanup.run()).toEqual([]); // the steps ran once; a new run has none
  });
});
