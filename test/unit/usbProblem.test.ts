import { describe, expect, it } from 'vitest';
import { stuckFromProc } from '../../src/supervisor/procStuck.js';
import { usbProblemHint, usbProblemOf, worseProblem } from '../../src/usb/usbProblem.js';

describe('usbProblemOf: why a USB driver gave up on its device, in NUT 2.8.0–2.8.5 words', () => {
  it.each([
    ["Can't claim USB device [0764:0501]@0/0: Entity not found", 'claimed'],
    ['Got disconnected by another driver: Device or resource busy', 'claimed'],
    ['libusb1: Could not open any HID devices: insufficient permissions on everything', 'access'],
    ['No matching HID UPS found', 'not-found'],
    ['libusb1: Could not open any HID devices: no USB buses found', 'not-found'],
    ['Using subdriver: CyberPower HID 0.6', undefined],
    ['nut_libusb_get_report: No such device (it may have been disconnected)', undefined],
  ])('%s → %s', (line, problem) => {
    expect(usbProblemOf(line)).toBe(problem);
  });

  it('keeps the telling problem: every failed search ends with "No matching HID UPS found"', () => {
    expect(worseProblem(undefined, 'not-found')).toBe('not-found');
    expect(worseProblem('access', 'not-found')).toBe('access');
    expect(worseProblem('not-found', 'claimed')).toBe('claimed');
    expect(worseProblem('claimed', undefined)).toBe('claimed');
  });
});

describe('usbProblemHint: what to check, in plain words', () => {
  const cp = { vendorid: '0764', productid: '0501', pollinterval: '2' };
  it('a held interface names the likely holders and says no reset is done', () => {
    const text = usbProblemHint('claimed', cp, 3000);
    expect(text).toMatch(/vendorid 0764, productid 0501/);
    expect(text).toMatch(/PowerPanel/);
    expect(text).toMatch(/nut-driver/);
    expect(text).toMatch(/every 3 s/);
  });
  it('a denied open names udev and the mapped bus, and what NUT before 2.8.5 means by it', () => {
    const text = usbProblemHint('access', cp, 3000);
    expect(text).toMatch(/62-nut-usbups\.rules/);
    expect(text).toMatch(/\/dev\/bus\/usb/);
    expect(text).toMatch(/before 2\.8\.5/);
  });
  it('a missing device names the bus in the container and vendorid/productid; without them, says so', () => {
    expect(usbProblemHint('not-found', cp, 3000)).toMatch(/mapped into the container.*vendorid\/productid/s);
    expect(usbProblemHint('not-found', { port: 'auto' }, 3000)).toMatch(/names no vendorid\/productid/);
  });
});

describe('stuckFromProc: a process that cannot act on SIGTERM', () => {
  const stat = (state: string) =>
    `1234 (usbhid-ups) ${state} 1 1234 1234 0 -1 4194560 92 0 0 0 1 2 0 0 20 0 1 0`;
  const status = (sigblk: string) =>
    `Name:\tusbhid-ups\nState:\tS (sleeping)\nSigBlk:\t${sigblk}\nSigIgn:\t0000000000001000\n`;
  it('sees uninterruptible sleep and a blocked SIGTERM, nothing else', () => {
    expect(stuckFromProc(stat('D'), status('0000000000000000'))).toBe('uninterruptible');
    expect(stuckFromProc(stat('S'), status('0000000000004000'))).toBe('sigterm-blocked');
    expect(stuckFromProc(stat('S'), status('0000000000004203'))).toBe('sigterm-blocked');
    expect(stuckFromProc(stat('S'), status('0000000000000002'))).toBeUndefined();
    expect(stuckFromProc(stat('R'), status('0000000000000000'))).toBeUndefined();
    // The command name may hold ')': the state is the first word after the last one.
    expect(stuckFromProc('1 (a) b) D 0', 'no SigBlk line')).toBe('uninterruptible');
  });
});
