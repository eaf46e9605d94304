/**
 * Which UPS is on the USB bus, for `init-config`: the devices sysfs lists, matched against NUT's own table of the USB
 * UPSes it supports (its udev rules, 62-nut-usbups.rules: a `# <models> - <driver>` comment, then the device's
 * `ATTR{idVendor}=="…", ATTR{idProduct}=="…"` line). NUT's nut-scanner finds the same, but it loads libusb from fixed
 * system paths and needs the bus itself; sysfs is there even in a container that only maps /dev/bus/usb.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** `vvvv:pppp` (lower-case hex) → the NUT drivers its rule names. */
export type UsbCatalog = ReadonlyMap<string, readonly string[]>;

/** Where distributions install NUT's udev rules (Debian 12: /lib; trixie, sid: /usr/lib; others: /etc). */
export const NUT_UDEV_RULES = [
  '/lib/udev/rules.d/62-nut-usbups.rules',
  '/usr/lib/udev/rules.d/62-nut-usbups.rules',
  '/etc/udev/rules.d/62-nut-usbups.rules',
];

const RULE = /ATTR\{idVendor\}=="([0-9a-fA-F]{4})",\s*ATTR\{idProduct\}=="([0-9a-fA-F]{4})"/;
const DRIVER_COMMENT = /^#.*\s-\s+([a-z0-9_-]+)\s*$/;

/** Pure: the catalog in the text of NUT's udev rules. */
export function parseNutUdevRules(text: string): UsbCatalog {
  const catalog = new Map<string, string[]>();
  let driver: string | undefined;
  for (const line of text.split('\n')) {
    const comment = DRIVER_COMMENT.exec(line.trim());
    if (comment) driver = comment[1];
    const rule = RULE.exec(line);
    if (!rule || driver === undefined) continue;
    const key = `${rule[1]}:${rule[2]}`.toLowerCase();
    catalog.set(key, [...new Set([...(catalog.get(key) ?? []), driver])]);
  }
  return catalog;
}

export interface FoundUps {
  vendorid: string;
  productid: string;
  /** sysfs name (`1-1.2`), manufacturer and product strings, for the message. */
  where: string;
}

export type ScanResult = { ok: true; ups: FoundUps } | { ok: false; reason: string };

/** Pure: the one device on the bus that NUT's table gives to `driver`. */
export function chooseUps(
  devices: ReadonlyArray<{ name: string; idVendor: string; idProduct: string; label?: string }>,
  catalog: UsbCatalog,
  driver: string,
): ScanResult {
  const ups = devices.filter((d) =>
    catalog.get(`${d.idVendor}:${d.idProduct}`.toLowerCase())?.includes(driver),
  );
  if (ups.length === 0)
    return { ok: false, reason: `no USB device that NUT's ${driver} supports is on the bus` };
  if (ups.length > 1)
    return {
      ok: false,
      reason: `${ups.length} USB UPSes for ${driver} are on the bus (${ups.map((d) => `${d.idVendor}:${d.idProduct} at ${d.name}`).join(', ')}): set INIT_UPS_VENDOR_ID / INIT_UPS_PRODUCT_ID`,
    };
  const d = ups[0] as (typeof ups)[number];
  return {
    ok: true,
    ups: {
      vendorid: d.idVendor.toLowerCase(),
      productid: d.idProduct.toLowerCase(),
      where: `${d.name}${d.label ? ` (${d.label})` : ''}`,
    },
  };
}

const attr = (dir: string, name: string): string | undefined => {
  try {
    return readFileSync(join(dir, name), 'utf8').trim();
  } catch {
    return undefined;
  }
};

/** The UPS for `driver` on this machine's bus (sysfs under `sysfsRoot`), with NUT's catalog from `rulesFiles`. */
export function scanUsbForUps(driver: string, sysfsRoot: string, rulesFiles = NUT_UDEV_RULES): ScanResult {
  const rules = rulesFiles.find((f) => existsSync(f));
  if (!rules) return { ok: false, reason: "NUT's udev rules (62-nut-usbups.rules) are not installed" };
  const devicesDir = join(sysfsRoot, 'bus', 'usb', 'devices');
  if (!existsSync(devicesDir)) return { ok: false, reason: `no USB bus under ${devicesDir}` };
  const devices = readdirSync(devicesDir).flatMap((name) => {
    const dir = join(devicesDir, name);
    const idVendor = attr(dir, 'idVendor');
    const idProduct = attr(dir, 'idProduct');
    if (!idVendor || !idProduct) return [];
    const label = [attr(dir, 'manufacturer'), attr(dir, 'product')].filter(Boolean).join(' ');
    return [{ name, idVendor, idProduct, label }];
  });
  return chooseUps(devices, parseNutUdevRules(readFileSync(rules, 'utf8')), driver);
}
