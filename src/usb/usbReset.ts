import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chooseUsbDevice, matchesSelector, type UsbDeviceInfo, type UsbSelector } from './usbMatch.js';

/**
 * Resets a UPS's USB device through sysfs by toggling its `authorized` attribute (0, then 1): the kernel unbinds
 * every driver of the device and logically disconnects it, then enumerates it again — what NUT's own
 * scripts/usb_resetter does. Chosen over USBDEVFS_RESET because it needs no ioctl (Node has none without a native
 * addon), only a write to a file, and it works the same in a container where /sys/bus/usb is mapped; it needs
 * write access to sysfs: root on the host; in a container /sys is read-only unless it runs privileged, and then a
 * reset ends in a `failed` usb-reset event naming the file (EROFS), never in a silent no-op.
 */

export type UsbResetResult =
  | { result: 'reset'; device: string; detail: string }
  | { result: 'refused'; device: null; detail: string }
  | { result: 'failed'; device: string | null; detail: string };

export interface UsbResetterOptions {
  /** Where sysfs is mounted (`/sys`; a temp dir in tests). */
  sysfsRoot: string;
  /** Time between `authorized` 0 and 1, so the kernel has let go of the device (usb_resetter waits too). */
  settleMs?: number;
  /** Writes one sysfs attribute; tests record the order. */
  writeAttribute?: (path: string, value: string) => Promise<void>;
}

const readAttr = async (dir: string, name: string): Promise<string | undefined> => {
  try {
    return (await readFile(join(dir, name), 'utf8')).trim();
  } catch {
    return undefined;
  }
};

export class UsbResetter {
  private readonly options: UsbResetterOptions;

  constructor(options: UsbResetterOptions) {
    this.options = options;
  }

  get devicesDir(): string {
    return join(this.options.sysfsRoot, 'bus', 'usb', 'devices');
  }

  /** Whether this sysfs has a USB bus at all (not in a container without it mapped). */
  available(): boolean {
    return existsSync(this.devicesDir);
  }

  /** Every USB device (not interfaces, which have no idVendor) under the sysfs root. */
  async listDevices(): Promise<UsbDeviceInfo[]> {
    const names = await readdir(this.devicesDir).catch(() => [] as string[]);
    const devices: UsbDeviceInfo[] = [];
    for (const name of names.sort()) {
      const dir = join(this.devicesDir, name);
      const idVendor = await readAttr(dir, 'idVendor');
      const idProduct = await readAttr(dir, 'idProduct');
      if (idVendor === undefined || idProduct === undefined) continue;
      const device: UsbDeviceInfo = { name, idVendor, idProduct };
      for (const key of ['serial', 'busnum', 'devnum', 'devpath'] as const) {
        const value = await readAttr(dir, key);
        if (value !== undefined) device[key] = value;
      }
      devices.push(device);
    }
    return devices;
  }

  /**
   * Whether a device matching `selector` is on the bus: true/false, or undefined when this sysfs has no USB bus or
   * the selector names nothing to match by (no vendorid, productid, …).
   */
  async sees(selector: UsbSelector): Promise<boolean | undefined> {
    if (!this.available() || Object.keys(selector).length === 0) return undefined;
    return (await this.listDevices()).some((d) => matchesSelector(d, selector));
  }

  /** Resets the one device that matches `selector`; touches nothing when none or several match. */
  async reset(selector: UsbSelector): Promise<UsbResetResult> {
    if (!this.available())
      return { result: 'refused', device: null, detail: `no USB bus under ${this.devicesDir}` };
    const choice = chooseUsbDevice(await this.listDevices(), selector);
    if (!choice.ok) return { result: 'refused', device: null, detail: choice.reason };
    const { name, idVendor, idProduct } = choice.device;
    const authorized = join(this.devicesDir, name, 'authorized');
    const write = this.options.writeAttribute ?? ((path, value) => writeFile(path, value));
    try {
      await write(authorized, '0');
    } catch (error) {
      return { result: 'failed', device: name, detail: `writing 0 to ${authorized}: ${String(error)}` };
    }
    await sleep(this.options.settleMs ?? 500);
    try {
      await write(authorized, '1');
    } catch (error) {
      // The device stays de-authorized (gone) until someone writes 1: say so loudly, with the path.
      return {
        result: 'failed',
        device: name,
        detail: `writing 1 to ${authorized} failed, the device stays disconnected until it is written: ${String(error)}`,
      };
    }
    // Let the kernel enumerate it again before a driver looks for it.
    await sleep(this.options.settleMs ?? 500);
    return {
      result: 'reset',
      device: name,
      detail: `${idVendor}:${idProduct} at ${name} de-authorized and authorized again`,
    };
  }
}
