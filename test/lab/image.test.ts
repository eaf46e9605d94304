// The image as a user builds it: the repository's Dockerfile, unchanged, built and run on a dummy-ups UPS with a
// test Mosquitto on loopback. Everything a user would check by hand: healthy by its own HEALTHCHECK, state and
// discovery on MQTT, a hung driver recovered inside with upsd untouched, a restart from mosquitto_pub, NUT's own
// upsc on the host reading the container's upsd, a clean `docker stop`, and a second start on the same volume.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectDockerEngine, type DockerEngine } from '../fixtures/docker/engine.js';
import {
  type BuiltImage,
  buildRepoImage,
  type ContainerProc,
  containerProcs,
  dummyUpsEnv,
  imageBytes,
  runImage,
} from '../fixtures/docker/repoImage.js';
import { type Broker, startMosquitto } from '../fixtures/mosquitto.js';
import { json, type Observer, observe } from '../fixtures/mqttObserver.js';
import { cyberPowerDev, devText, freePort, processAlive, sleep, waitFor } from '../fixtures/nutLab.js';

const lab = inject('dockerLab');
const IMAGE = 'nut-mqtt:lab-test';
const UPSMON = ['/lib/nut/upsmon', '/usr/sbin/upsmon'].find((f) => existsSync(f)) ?? 'upsmon';
/** What the agent and NUT may add to the base image (issue #8). */
const SIZE_BUDGET_BYTES = 40 * 1024 * 1024;
const STOP_TIMEOUT_S = 20;
/** init-config's default monitor user (NUT_USERNAME unset), with the password the test hands in. */
const MONITOR = { username: 'monuser', password: 'lab-monitor-pass' };
/** How old the health file may get before the HEALTHCHECK calls the agent stuck (the image's default is 30 s). */
const HEALTH_MAX_AGE_S = 6;

describe.skipIf(!lab.host)('the Docker image, built from the repository Dockerfile', () => {
  let engine: DockerEngine;
  let broker: Broker;
  let obs: Observer;
  let volume: string;
  let container = '';
  let upsdPort: number;
  let built: BuiltImage;
  const log = (line: string) => process.stderr.write(`[image] ${line}\n`);

  const top = () => containerProcs(engine, container);
  const find = async (re: RegExp) => (await top()).find((p) => re.test(p.args));

  async function runContainer(name: string): Promise<void> {
    const httpPort = await freePort();
    const env = {
      ...dummyUpsEnv({ mqttUrl: broker.url, upsdPort, httpPort }),
      // The monitor user's password that init-config writes into upsd.users (and upsmon below logs in with).
      NUT_PASSWORD: MONITOR.password,
      LOG_LEVEL: 'info',
      // Read by the HEALTHCHECK script: a stuck agent turns the container unhealthy within seconds, not 30 s.
      HEALTH_MAX_AGE: String(HEALTH_MAX_AGE_S),
      HEALTH_FILE_INTERVAL: '1000',
    };
    await runImage(engine, {
      name,
      image: IMAGE,
      env,
      volumes: { [volume]: '/etc/nut' },
      healthIntervalS: 2,
      flags: ['--stop-timeout', String(STOP_TIMEOUT_S)],
    });
    container = name;
  }

  async function health(): Promise<string> {
    const r = await engine.docker(['inspect', '-f', '{{.State.Health.Status}}', container]);
    return String(r.stdout).trim();
  }

  async function volumeDigest(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const name of (await readdir(volume)).sort()) {
      const file = join(volume, name);
      const s = await stat(file);
      out[name] = `${createHash('sha256')
        .update(await readFile(file))
        .digest('hex')} ${s.mtimeMs}`;
    }
    return out;
  }

  beforeAll(async () => {
    engine = await connectDockerEngine(lab.host as string);
    built = await buildRepoImage(engine, 'amd64', IMAGE, log);

    broker = await startMosquitto();
    obs = await observe(broker, ['nut/#', 'homeassistant/#']);
    volume = await mkdtemp(join(tmpdir(), 'nm-image-'));
    // dummy-ups reads its data file from the config folder: the only file there before the first start.
    await writeFile(join(volume, 'ups.dev'), devText(cyberPowerDev(1)));
    upsdPort = await freePort();
    await runContainer(`nut-mqtt-lab-${process.pid}`);
  });

  afterAll(async () => {
    if (engine && container) await engine.docker(['rm', '--force', container], { reject: false });
    await obs?.stop();
    await broker?.stop();
    if (volume) await rm(volume, { recursive: true, force: true });
  });

  it('stays within 40 MB of Debian and the node binary, with Node 24 and Debian NUT inside', async () => {
    const run = async (entrypoint: string, ...args: string[]) =>
      String(
        (await engine.docker(['run', '--rm', '--entrypoint', entrypoint, IMAGE, ...args])).stdout,
      ).trim();
    const debianBytes = await imageBytes(engine, 'debian:trixie-slim');
    const nodeBytes = Number(await run('stat', '-c', '%s', '/usr/local/bin/node'));
    const nodeImageBytes = await imageBytes(engine, 'node:24-trixie-slim');
    const added = built.bytes - debianBytes - nodeBytes;
    const [node, nut] = [await run('node', '--version'), await run('/usr/lib/nut/upsd', '-V')];
    const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
    log(
      `image ${mb(built.bytes)} = debian:trixie-slim ${mb(debianBytes)} + node ${mb(nodeBytes)} + ${mb(added)} (NUT, tini, the agent); the node:24-trixie-slim base alone is ${mb(nodeImageBytes)}; ${node}; ${nut}`,
    );
    expect(added).toBeLessThanOrEqual(SIZE_BUDGET_BYTES);
    expect(built.bytes).toBeLessThan(nodeImageBytes + SIZE_BUDGET_BYTES);
    expect(node).toMatch(/^v24\./);
    expect(nut).toMatch(/Network UPS Tools upsd 2\.8\.1/);
    // What the runtime never reads is not in it: npm, type declarations.
    expect((await run('ls', '/usr/local/bin')).split('\n')).toEqual(['node', 'nut-mqtt-healthcheck']);
    expect(await run('find', '/app/node_modules', '-name', '*.d.ts')).toBe('');
  });

  it('becomes healthy by its own HEALTHCHECK, after init-config wrote a default NUT configuration', async () => {
    const inspect = await engine.docker(['inspect', '-f', '{{json .Config.Healthcheck.Test}}', container]);
    expect(JSON.parse(String(inspect.stdout))).toEqual(['CMD', '/usr/local/bin/nut-mqtt-healthcheck']);
    await waitFor('container healthy', async () => ((await health()) === 'healthy' ? true : undefined), {
      timeoutMs: 90_000,
      intervalMs: 500,
      abort: async () => ((await health()) === 'unhealthy' ? 'container unhealthy' : undefined),
    });
    expect((await readdir(volume)).sort()).toEqual([
      'nut.conf',
      'ups.conf',
      'ups.dev',
      'upsd.conf',
      'upsd.users',
    ]);
    expect(await readFile(join(volume, 'ups.conf'), 'utf8')).toMatch(/driver = dummy-ups/);
    // A user's first look at the log: no false alarm (issue #16). The first lines go to the test's output.
    const lines = String((await engine.docker(['logs', container], { all: true })).all)
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string });
    log(
      `first log lines:\n  ${lines
        .slice(0, 30)
        .map((l) => `${l.level} ${l.msg}`)
        .join('\n  ')}`,
    );
    // NUT's own words count too: its warnings reach the log at info, as the program's output.
    expect(lines.filter((l) => l.level >= 40 || /^WARNING/.test(l.msg)).map((l) => l.msg)).toEqual([]);
  });

  it('publishes retained state, bridge info with the NUT version inside, and Home Assistant discovery', async () => {
    const state = await obs.waitFor('nut/ups', (m) => json(m)['ups.status'] === 'OL', {
      timeoutMs: 30_000,
    });
    expect(json(state)).toMatchObject({ 'ups.status': 'OL', 'device.mfr': 'CPS' });
    const info = json(
      await obs.waitFor('nut/bridge/info', (m) => json(m).nut_version !== null, { timeoutMs: 30_000 }),
    );
    expect(info.nut_version).toMatch(/2\.8\.1/);
    const discovery = await obs.waitFor(
      (t) => t.startsWith('homeassistant/') && t.endsWith('/config'),
      undefined,
      {
        timeoutMs: 30_000,
      },
    );
    expect(json(discovery)).toHaveProperty('unique_id');
    expect((await obs.waitFor('nut/ups/availability', (m) => m.text === 'online')).text).toBe('online');
  });

  it('recovers a driver SIGSTOPped inside the container, and upsd keeps its pid', async () => {
    const upsd = await find(/upsd/);
    const driver = await find(/dummy-ups/);
    expect(upsd && driver).toBeTruthy();
    const since = obs.mark();
    // The container shares the host's kernel: its processes are ours to signal by their host pid.
    process.kill((driver as ContainerProc).pid, 'SIGSTOP');
    const recovered = await obs.waitFor('nut/ups/event', (m) => json(m).type === 'recovered', {
      since,
      timeoutMs: 60_000,
    });
    expect(json(recovered)).toMatchObject({ ups: 'ups' });
    const after = await find(/dummy-ups/);
    expect(after?.pid).not.toBe(driver?.pid);
    expect((await find(/upsd/))?.pid).toBe(upsd?.pid);
    expect(processAlive((driver as ContainerProc).pid)).toBe(false);
  });

  it('restarts the driver on `restart` from mosquitto_pub', async () => {
    const before = await find(/dummy-ups/);
    const since = obs.mark();
    await execa('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(broker.port),
      '-t',
      'nut/ups/command',
      '-m',
      'restart',
    ]);
    const response = await obs.waitFor('nut/ups/command/response', undefined, { since, timeoutMs: 40_000 });
    expect(json(response)).toMatchObject({ status: 'ok', command: 'restart' });
    const after = await waitFor('a new driver pid', async () => {
      const p = await find(/dummy-ups/);
      return p && p.pid !== before?.pid ? p : undefined;
    });
    expect(after.pid).not.toBe(before?.pid);
  });

  it("serves NUT clients on the host through the container's upsd port", async () => {
    const r = await waitFor('upsc through the container', async () => {
      const out = await execa('upsc', [`ups@127.0.0.1:${upsdPort}`], { reject: false });
      return out.exitCode === 0 ? String(out.stdout) : undefined;
    });
    expect(r).toMatch(/^ups\.status: OL$/m);
    expect(r).toMatch(/^device\.mfr: CPS$/m);
  });

  it("lets NUT's own upsmon on the host log in with the monitor user init-config wrote", async () => {
    // upsmon is what other hosts and NASes run against port 3493: a real client no one here wrote.
    const dir = await mkdtemp(join(tmpdir(), 'nm-upsmon-'));
    const conf = [
      `MONITOR ups@127.0.0.1:${upsdPort} 1 ${MONITOR.username} ${MONITOR.password} primary`,
      'MINSUPPLIES 1',
      'SHUTDOWNCMD "/bin/true"',
      'POLLFREQ 1',
    ];
    await writeFile(join(dir, 'upsmon.conf'), `${conf.join('\n')}\n`, { mode: 0o600 });
    const env = { NUT_CONFPATH: dir, NUT_STATEPATH: dir, NUT_ALTPIDPATH: dir };
    // -F: foreground; -p: one privileged process (no split child to chase); -u root: no user switch.
    const upsmon = execa(UPSMON, ['-F', '-p', '-u', 'root'], { env, reject: false, all: true });
    try {
      const logins = await waitFor('upsmon logged in to the container’s upsd', async () => {
        const r = await execa('upsc', ['-c', `ups@127.0.0.1:${upsdPort}`], { reject: false });
        const clients = String(r.stdout).split('\n').filter(Boolean);
        return clients.length > 0 ? clients : undefined;
      });
      expect(logins).toContain('127.0.0.1');
    } finally {
      upsmon.kill('SIGTERM');
      const r = await upsmon;
      await rm(dir, { recursive: true, force: true });
      if (!/Communications with UPS ups@127\.0\.0\.1:\d+ established|UPS: ups@/.test(String(r.all)))
        log(`upsmon output: ${String(r.all).slice(-1500)}`);
    }
  });

  it('turns unhealthy while the agent is stuck (SIGSTOP), restarting nothing, and healthy once it runs again', async () => {
    const agent = await find(/^node dist\/cli\.js run/);
    expect(agent).toBeTruthy();
    const since = obs.mark();
    const healthIs = (want: string) => async () => ((await health()) === want ? true : undefined);
    process.kill((agent as ContainerProc).pid, 'SIGSTOP');
    try {
      // The health file is no longer rewritten: older than HEALTH_MAX_AGE, three checks 2 s apart fail.
      await waitFor('container unhealthy', healthIs('unhealthy'), { timeoutMs: 60_000, intervalMs: 500 });
    } finally {
      process.kill((agent as ContainerProc).pid, 'SIGCONT');
    }
    await waitFor('container healthy again', healthIs('healthy'), { timeoutMs: 60_000, intervalMs: 500 });
    const log = await engine.docker(['inspect', '-f', '{{json .State.Health.Log}}', container]);
    const checks = JSON.parse(String(log.stdout)) as { ExitCode: number; Output: string }[];
    expect(checks.some((c) => c.ExitCode === 1 && /the agent is stuck/.test(c.Output))).toBe(true);
    // The agent's own stall is no fault of the driver's.
    const faults = obs
      .on('nut/ups/event', since)
      .filter((m) => ['hung', 'recovering'].includes(String(json(m).type)));
    expect(faults).toEqual([]);
  });

  it('stops on `docker stop` with exit code 0 well inside the stop timeout, publishing offline, leaving nothing', async () => {
    const pids = (await top()).map((p) => p.pid);
    expect(pids.length).toBeGreaterThanOrEqual(4); // tini, node, upsd, dummy-ups
    const since = obs.mark();
    const started = Date.now();
    await engine.docker(['stop', '--time', String(STOP_TIMEOUT_S), container]);
    const tookMs = Date.now() - started;
    const state = await engine.docker([
      'inspect',
      '-f',
      '{{.State.ExitCode}} {{.State.OOMKilled}}',
      container,
    ]);
    log(`docker stop took ${tookMs} ms`);
    expect(String(state.stdout).trim()).toBe('0 false');
    expect(tookMs).toBeLessThan(STOP_TIMEOUT_S * 1000); // else docker had to SIGKILL (and the exit code is 137)
    expect((await obs.waitFor('nut/bridge/state', (m) => m.text === 'offline', { since })).text).toBe(
      'offline',
    );
    expect(obs.on('nut/ups/availability', since).map((m) => m.text)).toContain('offline');
    expect(pids.filter(processAlive)).toEqual([]);
    const logs = await engine.docker(['logs', container], { all: true });
    expect(String(logs.all)).toMatch(/received SIGTERM/);
  });

  it('keeps the files init-config wrote when it starts again on the same volume', async () => {
    const before = await volumeDigest();
    await engine.docker(['rm', container]);
    await sleep(1100); // a rewrite within the same second could keep the mtime
    await runContainer(`nut-mqtt-lab-${process.pid}-2`);
    await waitFor(
      'second container healthy',
      async () => ((await health()) === 'healthy' ? true : undefined),
      {
        timeoutMs: 90_000,
        intervalMs: 500,
      },
    );
    expect(await volumeDigest()).toEqual(before);
    // Healthy means upsd answers; it may still say WAIT until the new driver's first dump reaches it.
    const status = await waitFor('OL through the second container', async () => {
      const up = await execa('upsc', [`ups@127.0.0.1:${upsdPort}`, 'ups.status'], { reject: false });
      return String(up.stdout).trim() === 'OL' ? 'OL' : undefined;
    });
    expect(status).toBe('OL');
  });
});
