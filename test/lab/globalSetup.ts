// Starts (or finds) the Docker engine once for the lab run and stops it at the end, if it was ours.
// Where no engine can be had (not root, not Debian) the lab says so loudly and its tests are skipped — except
// on CI (CI=true) or with NUT_MQTT_LAB=required, where that is a failure.
import type { TestProject } from 'vitest/node';
import { dockerUnavailableReason, startDockerEngine } from '../fixtures/docker/engine.js';
import { ensureUsbSimLibrary } from '../fixtures/usbSim/usbBus.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dockerLab: { host?: string; unavailable?: string };
  }
}

const log = (line: string): void => {
  process.stderr.write(`[lab] ${line}\n`);
};

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const required = process.env.CI === 'true' || process.env.NUT_MQTT_LAB === 'required';
  const reason = dockerUnavailableReason();
  if (reason) {
    const banner = `\n${'!'.repeat(100)}\n!! DOCKER LAB NOT RUN: ${reason}.\n!! The image test and the NUT 2.8.1 / 2.8.5 runs are SKIPPED on this machine.\n${'!'.repeat(100)}\n`;
    if (required) throw new Error(`the Docker lab is required here (CI) but cannot run: ${reason}`);
    process.stderr.write(banner);
    project.provide('dockerLab', { unavailable: reason });
    return undefined;
  }
  // The containers have no compiler: the simulated USB UPS's libusb stand-in is built here, into the mounted repo.
  log(`USB simulator library: ${await ensureUsbSimLibrary()}`);
  const engine = await startDockerEngine(log);
  project.provide('dockerLab', { host: engine.host });
  return async () => {
    // Every lab container is named nut-mqtt-lab-*: one still there means a test did not clean up after itself.
    const r = await engine.docker(['ps', '--all', '--quiet', '--filter', 'name=^nut-mqtt-lab-']);
    const left = String(r.stdout).split('\n').filter(Boolean);
    if (left.length > 0) await engine.docker(['rm', '--force', ...left], { reject: false });
    await engine.stop();
    if (left.length > 0) throw new Error(`lab containers left running by the tests: ${left.join(', ')}`);
    log(engine.owned ? 'no container, no dockerd and no mount left' : 'no lab container left');
  };
}
