import { describe, expect, it } from 'vitest';
import { chooseUps, parseNutUdevRules } from '../../src/usb/usbCatalog.js';

// The shape of NUT's 62-nut-usbups.rules (our own lines): a comment naming models and the driver, then the rule.
const RULES = `# This file is generated and installed by the Network UPS Tools package.
ACTION!="add|change", GOTO="nut-usbups_rules_end"
# Cyber Power Systems
#  900AVR/BC900D  - usbhid-ups
ATTR{idVendor}=="0764", ATTR{idProduct}=="0005", MODE="664", GROUP="nut"
#  CP1200AVR/BC1200D  - usbhid-ups
ATTR{idVendor}=="0764", ATTR{idProduct}=="0501", MODE="664", GROUP="nut"
#  Krauler UP-M500VA  - blazer_usb
ATTR{idVendor}=="0001", ATTR{idProduct}=="0000", MODE="664", GROUP="nut"
#  Ablerex 625L  - nutdrv_qx
ATTR{idVendor}=="0001", ATTR{idProduct}=="0000", MODE="664", GROUP="nut"
LABEL="nut-usbups_rules_end"
`;

describe("NUT's USB device table (its udev rules)", () => {
  const catalog = parseNutUdevRules(RULES);
  it('maps each vendor:product to the drivers named in the comment above its rule', () => {
    expect(catalog.get('0764:0501')).toEqual(['usbhid-ups']);
    expect(catalog.get('0001:0000')).toEqual(['blazer_usb', 'nutdrv_qx']);
    expect(catalog.size).toBe(3);
  });

  const hub = { name: 'usb1', idVendor: '1d6b', idProduct: '0002' };
  const cp = { name: '1-1.2', idVendor: '0764', idProduct: '0501', label: 'CPS CP1500PFCLCD' };
  it('picks the one UPS for the driver among the bus devices', () => {
    expect(chooseUps([hub, cp], catalog, 'usbhid-ups')).toEqual({
      ok: true,
      ups: { vendorid: '0764', productid: '0501', where: '1-1.2 (CPS CP1500PFCLCD)' },
    });
  });
  it('says why when there is none, or several', () => {
    expect(chooseUps([hub], catalog, 'usbhid-ups')).toMatchObject({ ok: false, reason: /no USB device/ });
    expect(chooseUps([cp], catalog, 'blazer_usb')).toMatchObject({ ok: false });
    const two = chooseUps([cp, { ...cp, name: '1-1.3' }], catalog, 'usbhid-ups');
    expect(two).toMatchObject({ ok: false, reason: /2 USB UPSes .*INIT_UPS_VENDOR_ID/ });
  });
});
