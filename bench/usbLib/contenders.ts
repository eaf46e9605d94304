// bench:usb's two ways of running the real usbhid-ups on the simulated CyberPower: nut-mqtt (in-process, the
// schema's default timings, MQTT to a private broker) and the naive loop people script (upsdrvctl-started driver,
// `upsc` every 500 ms, on a failure `upsdrvctl stop` + `start`). Each runs on its own lab.
import { existsSync, readFileSync } from 'node:fs';
import { execa } from 'execa';
import { loadConfig } from '../../src/config/load.js';
import { type AgentUnderTest, startAgent } from '../../test/fixtures/agent.js';
import { sweepLab } from '../../test/fixtures/labProcs.js';
import type { Broker } from '../../test/fixtures/mosquitto.js';
import { type Observer, observe } from '../../test/fixtures/mqttObserver.js';
import { createNutLab, type NutLab } from '../../test/fixtures/nutLab.js';
import { sleep } from '../../test/fixtures/proc.js';
import type { SimulatedUsbUps } from '../../test/fixtures/usbSim/usbUps.js';
import { onCleanup } from '../lib/run.js';

export const UPS = 'cp';
const UPSDRVCTL = ['/usr/sbin/upsdrvctl', '/sbin/upsdrvctl'];

export interface UsbContender {
  name: 'nut-mqtt' | 'naive';
  lab: NutLab;
  ups: SimulatedUsbUps;
  /** When the contender first noticed something wrong after `since` (its own detection), if it did. */
  detectedAt(since: number): number | undefined;
  /** Hangs called (nut-mqtt) or restarts done (naive) after `since` that no fault caused: counted in calm runs. */
  alarms(since: number): number;
  /** What each of those alarms was (for a hang: its silence and the PING timeout it was called at). */
  alarmDetails(since: number): string[];
  driverPid(): number | undefined;
  /** AC lost → the contender's subscribers see OB: MQTT for nut-mqtt, its own upsc poll for the naive loop. */
  sawStatus(status: string, since: number): Promise<number | undefined>;
  stop(): Promise<void>;
}

async function usbLab(options: Record<string, string>): Promise<{ lab: NutLab; ups: SimulatedUsbUps }> {
  const lab = await createNutLab({
    upses: [{ name: UPS, usb: {}, options: { vendorid: '0764', productid: '0501', ...options } }],
  });
  return { lab, ups: lab.usbUps(UPS) };
}

export async function startAgentContender(
  options: Record<string, string>,
  broker: Broker,
): Promise<UsbContender> {
  const { lab, ups } = await usbLab(options);
  const unregisterLab = onCleanup('lab', () => lab.stop());
  const env = { ...lab.env, NUT_USER: 'root', MQTT_URL: broker.url };
  const defaults = loadConfig({ env }).config.supervisor;
  const agent: AgentUnderTest = await startAgent(lab, {
    timings: { ...defaults },
    env: { MQTT_URL: broker.url, LOG_LEVEL: 'info' },
  });
  const unregisterAgent = onCleanup('agent', () => agent.stop());
  const obs: Observer = await observe(broker, [`nut/${UPS}`]);
  await agent.waitForEvent('ready', (e) => e.ups === UPS, { timeoutMs: 30_000 });
  const at = <T extends { at: number }>(list: T[]) => list.map((e) => e.at);
  return {
    name: 'nut-mqtt',
    lab,
    ups,
    detectedAt: (since) =>
      firstAfter(
        [
          ...at(agent.eventsOf('hung')),
          ...at(agent.eventsOf('stale')),
          ...at(agent.eventsOf('usb-problem', (e) => e.problem !== null)),
          ...at(agent.eventsOf('recovering')),
        ],
        since,
      ),
    alarms: (since) => agent.eventsOf('hung').filter((e) => e.at >= since).length,
    alarmDetails: (since) =>
      agent
        .eventsOf('hung')
        .filter((e) => e.at >= since)
        .map(
          (e) =>
            `hung at ${new Date(e.at).toISOString()}: silent ${e.silentMs} ms, timeout ${e.timeoutMs} ms`,
        ),
    driverPid: () => agent.driverPid(UPS),
    async sawStatus(status, since) {
      const m = await obs
        .waitFor(`nut/${UPS}`, (x) => x.t >= since && JSON.parse(x.text)['ups.status'] === status, {
          timeoutMs: 10_000,
        })
        .catch(() => undefined);
      return m?.t;
    },
    async stop() {
      await obs.stop();
      await agent.stop();
      unregisterAgent();
      await lab.stop();
      unregisterLab();
    },
  };
}

const firstAfter = (times: number[], since: number) =>
  times.filter((t) => t >= since).sort((a, b) => a - b)[0];

export async function startNaiveContender(options: Record<string, string>): Promise<UsbContender> {
  const { lab, ups } = await usbLab(options);
  const unregisterLab = onCleanup('lab', () => lab.stop());
  const upsdrvctl = UPSDRVCTL.find((f) => existsSync(f)) ?? 'upsdrvctl';
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...lab.env };
  // No pipes: a driver upsdrvctl forks would inherit them and hold execa's promise open for its whole life.
  const drvctl = (args: string[]) =>
    execa(upsdrvctl, ['-u', 'root', ...args], {
      env,
      extendEnv: false,
      reject: false,
      timeout: 30_000,
      stdio: 'ignore',
    });
  const upsc = async () => {
    const r = await execa('upsc', [`${UPS}@127.0.0.1:${lab.port}`, 'ups.status'], {
      env,
      extendEnv: false,
      reject: false,
      timeout: 10_000,
    });
    return { ok: r.exitCode === 0, status: r.stdout.trim(), t: Date.now() };
  };
  await drvctl(['start', UPS]);
  await lab.startUpsd();
  const failures: number[] = [];
  const restarts: number[] = [];
  const seen: { t: number; status: string }[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const check = await upsc();
      if (check.ok) seen.push({ t: check.t, status: check.status });
      else if (!stopped) {
        failures.push(check.t);
        await drvctl(['stop', UPS]);
        await drvctl(['start', UPS]);
        restarts.push(Date.now());
        while (!stopped && !(await upsc()).ok) await sleep(500);
      }
      await sleep(500);
    }
  })();
  const unregisterLoop = onCleanup('naive loop', async () => {
    stopped = true;
    await loop;
  });
  return {
    name: 'naive',
    lab,
    ups,
    detectedAt: (since) => firstAfter(failures, since),
    alarms: (since) => restarts.filter((t) => t >= since).length,
    alarmDetails: (since) =>
      restarts.filter((t) => t >= since).map((t) => `restart at ${new Date(t).toISOString()}`),
    driverPid: () => {
      try {
        return Number(readFileSync(`${lab.env.NUT_ALTPIDPATH}/usbhid-ups-${UPS}.pid`, 'utf8').trim());
      } catch {
        return undefined;
      }
    },
    async sawStatus(status, since) {
      for (let i = 0; i < 100; i++) {
        const hit = seen.find((s) => s.t >= since && s.status === status);
        if (hit) return hit.t;
        await sleep(100);
      }
      return undefined;
    },
    async stop() {
      stopped = true;
      await loop;
      unregisterLoop();
      await drvctl(['stop']);
      await sleep(1000);
      // upsdrvctl's SIGTERM does not end a wedged driver: whatever of this lab still runs goes by pid.
      await sweepLab({ confPath: lab.confPath, dirs: [lab.dir] });
      await lab.stop();
      unregisterLab();
    },
  };
}
