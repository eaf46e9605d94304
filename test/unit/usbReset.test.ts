// The USB reset rung against a simulated sysfs tree in a temp dir: never a real device.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  chooseUsbDevice,
  isUsbDriver,
  matchesSelector,
  type UsbDeviceInfo,
  usbSelector,
} from '../../src/usb/usbMatch.js';
import { UsbResetter } from '../../src/usb/usbReset.js';

const CYBERPOWER: UsbDeviceInfo = {
  name: '1-1.2',
  idVendor: '0764',
  idProduct: '0501',
  serial: 'CTHGN000001',
  busnum: '1',
  devnum: '5',
  devpath: '1.2',
};
const APC: UsbDeviceInfo = {
  name: '2-3',
  idVendor: '051d',
  idProduct: '0002',
  serial: '3B1234X56789',
  busnum: '2',
  devnum: '3',
  devpath: '3',
};
const CYBERPOWER_2: UsbDeviceInfo = {
  ...CYBERPOWER,
  name: '1-1.4',
  serial: 'CTHGN000002',
  devnum: '7',
  devpath: '1.4',
};

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A fake /sys with the given devices (plus a root hub and an interface, which are never candidates). */
async function fakeSysfs(devices: UsbDeviceInfo[]): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'sysfs-'));
  dirs.push(root);
  const base = join(root, 'bus', 'usb', 'devices');
  const write = async (name: string, attrs: Record<string, string>) => {
    await mkdir(join(base, name), { recursive: true });
    for (const [key, value] of Object.entries(attrs)) await writeFile(join(base, name, key), `${value}\n`);
  };
  await write('usb1', {
    idVendor: '1d6b',
    idProduct: '0002',
    busnum: '1',
    devnum: '1',
    devpath: '0',
    authorized: '1',
  });
  await write('1-1.2:1.0', { bInterfaceClass: '03' });
  for (const { name, ...attrs } of devices) {
    const { serial, ...rest } = attrs;
    await write(name, { ...rest, ...(serial === undefined ? {} : { serial }), authorized: '1' } as Record<
      string,
      string
    >);
  }
  return root;
}

const authorizedOf = async (root: string, name: string) =>
  (await readFile(join(root, 'bus', 'usb', 'devices', name, 'authorized'), 'utf8')).trim();

describe('matching a ups.conf section to a USB device', () => {
  it('knows the USB drivers', () => {
    // The whole list is pinned by the README test (the USB reset rung names them).
    for (const d of ['usbhid-ups', 'nutdrv_qx', 'blazer_usb']) expect(isUsbDriver(d), d).toBe(true);
    for (const d of ['dummy-ups', 'blazer_ser', 'snmp-ups', 'powerpanel'])
      expect(isUsbDriver(d), d).toBe(false);
  });

  it('reads the selector keys from ups.conf options (ignoring flags and other keys)', () => {
    expect(
      usbSelector({
        vendorid: '0764',
        productid: '0501',
        serial: 'X',
        bus: '001',
        pollonly: true,
        pollfreq: '30',
        port: 'auto',
      }),
    ).toEqual({ vendorid: '0764', productid: '0501', serial: 'X', bus: '001' });
  });

  it('matches by each key on its own', () => {
    const devices = [CYBERPOWER, APC];
    const only = (selector: Parameters<typeof matchesSelector>[1]) =>
      devices.filter((d) => matchesSelector(d, selector)).map((d) => d.name);
    expect(only({ vendorid: '0764' })).toEqual(['1-1.2']);
    expect(only({ vendorid: '764' })).toEqual(['1-1.2']); // hex, leading zeros do not matter
    expect(only({ vendorid: '051D' })).toEqual(['2-3']); // case does not matter
    expect(only({ productid: '0002' })).toEqual(['2-3']);
    expect(only({ serial: 'CTHGN000001' })).toEqual(['1-1.2']);
    expect(only({ serial: 'cthgn000001' })).toEqual([]); // serials are compared exactly
    expect(only({ bus: '001' })).toEqual(['1-1.2']);
    expect(only({ bus: '2' })).toEqual(['2-3']);
    expect(only({ device: '003' })).toEqual(['2-3']);
    expect(only({ busport: '2' })).toEqual(['1-1.2']); // the last step of devpath 1.2
    expect(only({ busport: '3' })).toEqual(['2-3']);
    expect(only({ vendorid: 'zz' })).toEqual([]);
  });

  it('needs every key to match', () => {
    expect(matchesSelector(CYBERPOWER, { vendorid: '0764', productid: '0002' })).toBe(false);
    expect(
      matchesSelector(CYBERPOWER, { vendorid: '0764', productid: '0501', serial: 'CTHGN000001', bus: '1' }),
    ).toBe(true);
  });

  it('refuses without any key, with none matching, and with several matching', () => {
    expect(chooseUsbDevice([CYBERPOWER], {})).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/names no vendorid/),
    });
    expect(chooseUsbDevice([APC], { vendorid: '0764' })).toEqual({
      ok: false,
      reason: 'no USB device matches vendorid=0764',
    });
    const several = chooseUsbDevice([CYBERPOWER, CYBERPOWER_2], { vendorid: '0764', productid: '0501' });
    expect(several).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^2 USB devices match .*1-1\.2, 1-1\.4.*serial/),
    });
    expect(
      chooseUsbDevice([CYBERPOWER, CYBERPOWER_2], { vendorid: '0764', serial: 'CTHGN000002' }),
    ).toMatchObject({
      ok: true,
      device: { name: '1-1.4' },
    });
  });
});

describe('UsbResetter on a fake sysfs', () => {
  it('lists devices, not root-hub-less interfaces, with their attributes', async () => {
    const root = await fakeSysfs([CYBERPOWER, APC]);
    const devices = await new UsbResetter({ sysfsRoot: root }).listDevices();
    expect(devices.map((d) => d.name)).toEqual(['1-1.2', '2-3', 'usb1']);
    expect(devices[0]).toEqual(CYBERPOWER);
  });

  it('resets the matching device: authorized 0, then 1, and leaves every other device alone', async () => {
    const root = await fakeSysfs([CYBERPOWER, APC, CYBERPOWER_2]);
    const writes: string[] = [];
    const resetter = new UsbResetter({
      sysfsRoot: root,
      settleMs: 10,
      writeAttribute: async (path, value) => {
        writes.push(`${path.slice(root.length)}=${value}`);
        await writeFile(path, value);
      },
    });
    const result = await resetter.reset({ vendorid: '0764', serial: 'CTHGN000001' });
    expect(result).toMatchObject({ result: 'reset', device: '1-1.2' });
    expect(writes).toEqual(['/bus/usb/devices/1-1.2/authorized=0', '/bus/usb/devices/1-1.2/authorized=1']);
    for (const name of ['1-1.2', '1-1.4', '2-3', 'usb1']) expect(await authorizedOf(root, name)).toBe('1');
  });

  it('then the driver restart: the restart comes only after authorized is 1 again', async () => {
    const root = await fakeSysfs([CYBERPOWER]);
    const order: string[] = [];
    const resetter = new UsbResetter({
      sysfsRoot: root,
      settleMs: 20,
      writeAttribute: async (path, value) => {
        order.push(`authorized ${value}`);
        await writeFile(path, value);
      },
    });
    // What the recovery ladder does (UpsSupervisor.runRecovery): stop the old driver, reset, start the new one.
    order.push('driver stopped');
    await resetter.reset({ vendorid: '0764', productid: '0501' });
    order.push('driver started');
    expect(order).toEqual(['driver stopped', 'authorized 0', 'authorized 1', 'driver started']);
  });

  it('touches nothing when no device, or several, match; says why', async () => {
    const root = await fakeSysfs([CYBERPOWER, CYBERPOWER_2, APC]);
    const writes: string[] = [];
    const resetter = new UsbResetter({
      sysfsRoot: root,
      settleMs: 1,
      writeAttribute: async (path, value) => {
        writes.push(`${path}=${value}`);
      },
    });
    expect(await resetter.reset({ vendorid: '0764' })).toMatchObject({
      result: 'refused',
      device: null,
      detail: expect.stringMatching(/^2 USB devices match vendorid=0764/),
    });
    expect(await resetter.reset({ vendorid: '0463' })).toEqual({
      result: 'refused',
      device: null,
      detail: 'no USB device matches vendorid=0463',
    });
    expect(await resetter.reset({})).toMatchObject({ result: 'refused' });
    // A mismatch on one key refuses even when the others match.
    expect(await resetter.reset({ vendorid: '0764', productid: '0501', serial: 'NOPE' })).toMatchObject({
      result: 'refused',
    });
    expect(writes).toEqual([]);
  });

  it('refuses without a USB bus in the sysfs root (a container without /sys/bus/usb)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'sysfs-'));
    dirs.push(root);
    const resetter = new UsbResetter({ sysfsRoot: root });
    expect(resetter.available()).toBe(false);
    expect(await resetter.reset({ vendorid: '0764' })).toMatchObject({
      result: 'refused',
      detail: expect.stringMatching(/no USB bus under/),
    });
  });

  it('reports a failed write, and which one (a device left de-authorized is said so)', async () => {
    const root = await fakeSysfs([CYBERPOWER]);
    const denied = new UsbResetter({
      sysfsRoot: root,
      settleMs: 1,
      writeAttribute: async () => {
        throw new Error('EACCES: permission denied');
      },
    });
    expect(await denied.reset({ vendorid: '0764' })).toMatchObject({
      result: 'failed',
      device: '1-1.2',
      detail: expect.stringMatching(/writing 0 to .*authorized: Error: EACCES/),
    });
    let calls = 0;
    const halfway = new UsbResetter({
      sysfsRoot: root,
      settleMs: 1,
      writeAttribute: async () => {
        calls += 1;
        if (calls === 2) throw new Error('EIO');
      },
    });
    expect(await halfway.reset({ vendorid: '0764' })).toMatchObject({
      result: 'failed',
      detail: expect.stringMatching(/writing 1 .*stays disconnected/),
    });
  });

  it('writes the real files by default', async () => {
    const root = await fakeSysfs([CYBERPOWER]);
    expect(
      await new UsbResetter({ sysfsRoot: root, settleMs: 1 }).reset({ productid: '0501' }),
    ).toMatchObject({
      result: 'reset',
    });
    expect(await authorizedOf(root, '1-1.2')).toBe('1');
  });
});
