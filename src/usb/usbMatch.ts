/**
 * Which USB device in sysfs is a UPS's? Pure: what ups.conf says and what sysfs lists, in; the verdict out.
 * Never a guess: a device is chosen only when exactly one matches every key ups.conf gives, and ups.conf gives at
 * least one (without any, every UPS on the bus would match).
 */

/** NUT drivers that talk to the UPS over USB (libusb): the ones the reset rung applies to. */
export const USB_DRIVERS: ReadonlySet<string> = new Set([
  'usbhid-ups',
  'nutdrv_qx',
  'blazer_usb',
  'riello_usb',
  'bcmxcp_usb',
  'tripplite_usb',
  'richcomm_usb',
  'nutdrv_atcl_usb',
]);

export function isUsbDriver(driver: string): boolean {
  return USB_DRIVERS.has(driver);
}

/** One USB device's sysfs attributes (missing ones undefined), under its sysfs name (`1-1.2`). */
export interface UsbDeviceInfo {
  name: string;
  idVendor: string;
  idProduct: string;
  serial?: string;
  busnum?: string;
  devnum?: string;
  /** Port chain below the root hub, e.g. `1.2`. */
  devpath?: string;
}

/** The ups.conf keys that pick a USB device (NUT's names). */
export interface UsbSelector {
  vendorid?: string;
  productid?: string;
  serial?: string;
  /** Bus number (`001` or `1`). */
  bus?: string;
  /** Device number on the bus. */
  device?: string;
  /** Port number on its hub (NUT 2.8.1+): the last step of sysfs devpath. */
  busport?: string;
}

const SELECTOR_KEYS = ['vendorid', 'productid', 'serial', 'bus', 'device', 'busport'] as const;

/** The selector from a ups.conf section's options (bare flags and other keys ignored). */
export function usbSelector(options: Readonly<Record<string, string | true>>): UsbSelector {
  const selector: UsbSelector = {};
  for (const key of SELECTOR_KEYS) {
    const value = options[key];
    if (typeof value === 'string' && value.trim() !== '') selector[key] = value.trim();
  }
  return selector;
}

const sameHex = (a: string, b: string | undefined) =>
  b !== undefined && Number.parseInt(a, 16) === Number.parseInt(b, 16) && /^[0-9a-f]+$/i.test(a);
const sameNumber = (a: string, b: string | undefined) =>
  b !== undefined && /^\d+$/.test(a) && /^\d+$/.test(b) && Number(a) === Number(b);
const lastPort = (devpath: string | undefined) => devpath?.split('.').pop();

/** Whether a device matches every key of the selector. */
export function matchesSelector(device: UsbDeviceInfo, selector: UsbSelector): boolean {
  if (selector.vendorid !== undefined && !sameHex(selector.vendorid, device.idVendor)) return false;
  if (selector.productid !== undefined && !sameHex(selector.productid, device.idProduct)) return false;
  if (selector.serial !== undefined && selector.serial !== device.serial?.trim()) return false;
  if (selector.bus !== undefined && !sameNumber(selector.bus, device.busnum)) return false;
  if (selector.device !== undefined && !sameNumber(selector.device, device.devnum)) return false;
  if (selector.busport !== undefined && !sameNumber(selector.busport, lastPort(device.devpath))) return false;
  return true;
}

export type UsbChoice = { ok: true; device: UsbDeviceInfo } | { ok: false; reason: string };

/** The one device ups.conf means, or why there is none to reset. */
export function chooseUsbDevice(devices: readonly UsbDeviceInfo[], selector: UsbSelector): UsbChoice {
  const keys = Object.entries(selector).map(([k, v]) => `${k}=${v}`);
  if (keys.length === 0)
    return {
      ok: false,
      reason:
        'ups.conf names no vendorid, productid, serial, bus, device or busport for this UPS: no device is reset without one',
    };
  const matches = devices.filter((d) => matchesSelector(d, selector));
  const wanted = keys.join(' ');
  if (matches.length === 0) return { ok: false, reason: `no USB device matches ${wanted}` };
  if (matches.length > 1)
    return {
      ok: false,
      reason: `${matches.length} USB devices match ${wanted} (${matches.map((d) => d.name).join(', ')}): add serial or bus/busport to ups.conf to tell them apart`,
    };
  return { ok: true, device: matches[0] as UsbDeviceInfo };
}
