import { describe, expect, it } from 'vitest';
import { driverLogSignal, RepeatedLine } from '../../src/supervisor/driverLog.js';

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

describe('usbhid-ups losing its device', () => {
  const gone = 'nut_libusb_get_report: No such device (it may have been disconnected)';
  it("takes its 'No such device' lines as device-gone, from any libusb call, and only from usbhid-ups", () => {
    expect(driverLogSignal('usbhid-ups', gone)).toBe('device-gone');
    expect(
      driverLogSignal(
        'usbhid-ups',
        'nut_libusb_get_interrupt: No such device (it may have been disconnected)',
      ),
    ).toBe('device-gone');
    expect(driverLogSignal('blazer_usb', gone)).toBeUndefined();
    expect(driverLogSignal('usbhid-ups', 'nut_libusb_get_report: Input/Output Error')).toBeUndefined();
    expect(
      driverLogSignal('usbhid-ups', 'Communications with UPS lost: status read failed!'),
    ).toBeUndefined();
  });

  it('a burst within one update is a replug the driver handles; lines still coming a second later are a frozen driver', () => {
    const burst = new RepeatedLine();
    // pollonly on NUT 2.8.0: seven lines per poll, every 2 s.
    expect([0, 1, 2, 3, 4, 5, 6].map((ms) => burst.feed(1000 + ms))).not.toContain(true);
    expect(burst.feed(3000)).toBe(true);
    const once = new RepeatedLine();
    expect(once.feed(0)).toBe(false); // interrupt mode: one line, then the driver reconnects
    expect(once.feed(20_000)).toBe(false); // much later: a new, single event
    const spread = new RepeatedLine();
    expect([0, 5000, 20_000].map((t) => spread.feed(t))).toEqual([false, false, false]);
    spread.reset();
    expect(spread.feed(30_000)).toBe(false);
  });
});
