import { describe, expect, it } from 'vitest';
import { driverLogSignal } from '../../src/supervisor/driverLog.js';

describe('driverLogSignal', () => {
  it("takes blazer_ser's and blazer_usb's comm-lost warning as the driver's stale word", () => {
    for (const driver of ['blazer_ser', 'blazer_usb'])
      expect(driverLogSignal(driver, 'Communications with UPS lost: status read failed!')).toBe('comm-lost');
  });
  it('ignores the same words from drivers that write them on the first failed read (ser_comm_fail) or at debug', () => {
    for (const driver of ['apcsmart', 'bestups', 'nutdrv_qx', 'usbhid-ups', 'dummy-ups'])
      expect(driverLogSignal(driver, 'Communications with UPS lost: status read failed!')).toBeUndefined();
  });
  it("ignores blazer's other lines, its re-established notice included", () => {
    for (const line of [
      'Communications with UPS re-established',
      'Supported UPS detected with megatec protocol',
      'Data for UPS [q1] is stale - check driver',
      'Warning: Communications with UPS lost: status read failed!',
      '',
    ])
      expect(driverLogSignal('blazer_ser', line)).toBeUndefined();
  });
});
