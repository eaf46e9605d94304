import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentConfigShape } from '../config/schema.js';
import { type FoundUps, scanUsbForUps } from '../usb/usbCatalog.js';
import { isUsbDriver } from '../usb/usbMatch.js';

export interface InitFile {
  name: string;
  content: string;
  /** upsd refuses (warns about) world-readable files holding passwords. */
  mode: number;
}

export interface InitResult {
  written: string[];
  kept: string[];
  /** True when no password was configured and a random one went into upsd.users. */
  generatedPassword: boolean;
  username: string;
  /** What the USB scan said, when ups.conf was written for a USB driver without INIT_UPS_VENDOR_ID/PRODUCT_ID. */
  usbScan?: string;
}

const DEFAULT_USER = 'monuser';

/**
 * The default NUT configuration for a first start: one UPS from the INIT_UPS_* settings, upsd listening for other NUT
 * clients, and one monitor user whose password comes from NUT_PASSWORD / NUT_PASSWORD_FILE (never a built-in
 * default; a random one when none is given). Pure: the caller decides what to write.
 */
export function defaultNutFiles(config: AgentConfigShape, password: string, found?: FoundUps): InitFile[] {
  const { init, nut, mqtt } = config;
  // The UPS found on the bus (init-config's scan) when the settings name none: the USB reset rung needs them.
  const vendorId = init.upsVendorId || found?.vendorid;
  const productId = init.upsProductId || found?.productid;
  const username = nut.username || DEFAULT_USER;
  const ups = [
    '# Written by nut-mqtt init-config on first start. Edit freely: it is never overwritten.',
    `[${init.upsName}]`,
    `  driver = ${init.upsDriver}`,
    `  port = "${init.upsPort}"`,
    ...(init.upsDesc ? [`  desc = "${init.upsDesc}"`] : []),
    ...(found ? [`  # found on the USB bus at ${found.where}`] : []),
    ...(vendorId ? [`  vendorid = ${vendorId.toLowerCase()}`] : []),
    ...(productId ? [`  productid = ${productId.toLowerCase()}`] : []),
  ];
  const upsd = [
    '# Written by nut-mqtt init-config. Other NUT clients (upsmon on other hosts, a NAS) connect here.',
    `LISTEN ${init.listenHost} ${init.listenPort}`,
  ];
  const users = [
    '# Written by nut-mqtt init-config. upsmon clients log in with this user; nut-mqtt uses it for the',
    '# instant commands allowed by MQTT_INSTCMD_ALLOW.',
    `[${username}]`,
    `  password = "${password}"`,
    '  upsmon primary',
    ...mqtt.instcmdAllow.map((cmd) => `  instcmds = ${cmd}`),
  ];
  return [
    { name: 'nut.conf', content: 'MODE=netserver\n', mode: 0o640 },
    { name: 'ups.conf', content: `${ups.join('\n')}\n`, mode: 0o640 },
    { name: 'upsd.conf', content: `${upsd.join('\n')}\n`, mode: 0o640 },
    { name: 'upsd.users', content: `${users.join('\n')}\n`, mode: 0o600 },
  ];
}

/** Passwords go into a quoted upsd.users value: keep them to characters that need no escaping there. */
function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

/** Writes each default file that does not exist yet; never overwrites. */
export function writeDefaultNutConfig(config: AgentConfigShape): InitResult {
  const dir = config.nut.confPath;
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  const generatedPassword = config.nut.password === '';
  if (/["\\\n\r]/.test(config.nut.password)) {
    throw new Error(
      'NUT_PASSWORD must not contain quotes, backslashes or line breaks (it goes into upsd.users)',
    );
  }
  const password = generatedPassword ? generatePassword() : config.nut.password;
  const result: InitResult = {
    written: [],
    kept: [],
    generatedPassword: false,
    username: config.nut.username || DEFAULT_USER,
  };
  const { init } = config;
  const scan =
    isUsbDriver(init.upsDriver) &&
    !init.upsVendorId &&
    !init.upsProductId &&
    !existsSync(join(dir, 'ups.conf'))
      ? scanUsbForUps(init.upsDriver, config.supervisor.sysfsRoot)
      : undefined;
  if (scan)
    result.usbScan = scan.ok
      ? `found ${scan.ups.vendorid}:${scan.ups.productid} at ${scan.ups.where}: vendorid/productid written to ups.conf`
      : `vendorid/productid not written (${scan.reason}); the USB reset rung needs them: set INIT_UPS_VENDOR_ID / INIT_UPS_PRODUCT_ID or edit ups.conf`;
  for (const file of defaultNutFiles(config, password, scan?.ok ? scan.ups : undefined)) {
    const path = join(dir, file.name);
    if (existsSync(path)) {
      result.kept.push(path);
      continue;
    }
    writeFileSync(path, file.content, { mode: file.mode, flag: 'wx' });
    result.written.push(path);
    if (file.name === 'upsd.users') result.generatedPassword = generatedPassword;
  }
  return result;
}
