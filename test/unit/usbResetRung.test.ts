// The USB reset rung inside the recovery ladder, with a stand-in driver (a shell script that logs its start and
// exits at once, as usbhid-ups does when it cannot claim a wedged device) and a simulated sysfs: the reset comes
// after USB_RESET_AFTER failed restarts, authorized 0 → 1, and only then the next driver start.
import { appendFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { EventBus } from '../../src/events.js';
import { createLogger } from '../../src/logger.js';
import { NutClient } from '../../src/nut/client.js';
import { nutCapabilities } from '../../src/nut/nutCapabilities.js';
import type { NutSetup } from '../../src/nut/nutSetup.js';
import { UpsSupervisor } from '../../src/supervisor/upsSupervisor.js';
import { UsbResetter } from '../../src/usb/usbReset.js';

const dirs: string[] = [];
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function rig(options: Record<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), 'usbrung-'));
  dirs.push(dir);
  const log = join(dir, 'order.log');
  await writeFile(log, '');
  await writeFile(join(dir, 'usbhid-ups'), `#!/bin/sh\necho "driver started" >> '${log}'\nexit 1\n`);
  await chmod(join(dir, 'usbhid-ups'), 0o755);
  const dev = join(dir, 'sys', 'bus', 'usb', 'devices', '1-1.2');
  await mkdir(dev, { recursive: true });
  for (const [k, v] of Object.entries({
    idVendor: '0764',
    idProduct: '0501',
    serial: 'CTHGN000001',
    authorized: '1',
  }))
    await writeFile(join(dev, k), `${v}\n`);
  const { config } = loadConfig({ env: { MQTT_URL: '' } });
  const timings = {
    ...config.supervisor,
    backoffInitial: 10,
    backoffMax: 20,
    breakerRestarts: 100,
    verifyTimeout: 1000,
    usbResetAfter: 2,
    spinCpuShare: 0,
  };
  const setup: NutSetup = {
    confPath: dir,
    statePath: dir,
    altPidPath: dir,
    driverPath: dir,
    upsdPath: '/nonexistent/upsd',
    upses: [{ name: 'cp', driver: 'usbhid-ups', port: 'auto', options, line: 1 }],
    upsd: { listen: [{ host: '127.0.0.1', port: 1 }], other: {} },
    address: { host: '127.0.0.1', port: 1 },
    childEnv: { PATH: '/usr/bin:/bin' },
  };
  const bus = new EventBus();
  const events: string[] = [];
  bus.on('usb-reset', (e) => events.push(`${e.result} ${e.device ?? '-'}: ${e.detail}`));
  bus.on('recovering', (e) => events.push(`recovering attempt ${e.attempt}`));
  const client = new NutClient({ host: '127.0.0.1', port: 1, requestTimeoutMs: 200 });
  const ups = new UpsSupervisor({
    ups: setup.upses[0] as NutSetup['upses'][number],
    setup,
    timings,
    bus,
    logger: createLogger('silent'),
    client,
    driverSocketCapabilities: () => nutCapabilities(undefined).driverSocket,
    usbResetter: new UsbResetter({
      sysfsRoot: join(dir, 'sys'),
      settleMs: 20,
      writeAttribute: async (path, value) => {
        appendFileSync(log, `${path.slice(dir.length)} ${value}\n`);
        await writeFile(path, value);
      },
    }),
  });
  stops.push(async () => {
    await ups.stop();
    await client.close();
  });
  return { ups, log, events };
}

const until = async (what: () => Promise<boolean>, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('the USB reset rung in the recovery ladder', () => {
  it('after USB_RESET_AFTER failed restarts: authorized 0, then 1, then the driver starts again', async () => {
    const { ups, log, events } = await rig({ vendorid: '0764', productid: '0501' });
    ups.start();
    await until(
      async () => (await readFile(log, 'utf8')).split('\n').filter((l) => l === 'driver started').length >= 5,
    );
    await ups.stop();
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    const auth = '/sys/bus/usb/devices/1-1.2/authorized';
    // First start, attempt 1 and 2 (restarts alone), then attempt 3 and on: reset first, then the start.
    expect(lines.slice(0, 9)).toEqual([
      'driver started',
      'driver started',
      'driver started',
      `${auth} 0`,
      `${auth} 1`,
      'driver started',
      `${auth} 0`,
      `${auth} 1`,
      'driver started',
    ]);
    expect(events.slice(0, 4)).toEqual([
      'recovering attempt 1',
      'recovering attempt 2',
      'recovering attempt 3',
      'reset 1-1.2: 0764:0501 at 1-1.2 de-authorized and authorized again',
    ]);
  });

  it('refuses, and says why, when ups.conf names no device: the restarts go on without a reset', async () => {
    const { ups, log, events } = await rig({});
    ups.start();
    await until(async () => events.some((e) => e.startsWith('refused')));
    await ups.stop();
    expect(events.find((e) => e.startsWith('refused'))).toMatch(/names no vendorid/);
    expect(await readFile(log, 'utf8')).not.toMatch(/authorized/);
  });
});
