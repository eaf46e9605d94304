/**
 * Why a USB driver cannot get at its UPS, from what it says when it gives up at start. Pure: a line in, a problem or
 * nothing out; a problem in, plain words for the owner out.
 *
 * A held interface and a missing device are no driver failures a restart or a USB reset can mend: the supervisor
 * waits for the device instead (recoveryLadder.ts: no reset, no breaker) and says why, in the log, as a
 * `usb-problem` event and in the UPS's state. A denied open is said the same way, but NUT before 2.8.5 reports any
 * failed open so, and then restarts and a reset are the right answer. The words are NUT's own (drivers/libusb1.c, usbhid-ups.c, 2.8.0–2.8.5); NUT replaces the BUSY code of a
 * refused claim with the last error of its retries, so a held interface reads "Can't claim USB device … Entity not
 * found", never "busy".
 */
import { type UsbSelector, usbSelector } from './usbMatch.js';

export const USB_PROBLEMS = ['claimed', 'access', 'not-found'] as const;
export type UsbProblem = (typeof USB_PROBLEMS)[number];

const RULES: ReadonlyArray<{ problem: UsbProblem; pattern: RegExp }> = [
  { problem: 'claimed', pattern: /Can't claim USB device|Got disconnected by another driver|Resource busy/ },
  { problem: 'access', pattern: /insufficient permissions|Access denied|Permission denied/i },
  { problem: 'not-found', pattern: /No matching (?:HID |USB\/HID |USB )?UPS found|no USB buses found/i },
];

/** The problem a line of a USB driver's stderr names, if any. */
export function usbProblemOf(line: string): UsbProblem | undefined {
  return RULES.find((r) => r.pattern.test(line))?.problem;
}

/**
 * The more telling of two problems seen from one driver process: NUT ends every failed search with "No matching …
 * UPS found", also when the device was there but denied or held.
 */
export function worseProblem(a: UsbProblem | undefined, b: UsbProblem | undefined): UsbProblem | undefined {
  if (a === undefined || (a === 'not-found' && b !== undefined)) return b;
  return a;
}

const describe = (s: UsbSelector): string => {
  const keys = Object.entries(s).map(([k, v]) => `${k} ${v}`);
  return keys.length > 0 ? keys.join(', ') : 'any UPS (ups.conf names no vendorid/productid)';
};

/** What to check, in plain words, for a UPS's driver options (ups.conf section). */
export function usbProblemHint(
  problem: UsbProblem,
  options: Readonly<Record<string, string | true>>,
  retryMs: number,
): string {
  const wanted = describe(usbSelector(options));
  const retry = `nut-mqtt tries again every ${Math.round(retryMs / 1000)} s and resets nothing meanwhile.`;
  const seen = 'nut-mqtt starts the driver as soon as sysfs shows a matching device, without a USB reset.';
  switch (problem) {
    case 'claimed':
      return `Another program holds the UPS's USB interface (${wanted}): the host's own NUT driver (systemctl disable --now nut-driver.target nut-server), a second nut-mqtt or NUT container, or the maker's software (CyberPower PowerPanel: pwrstatd). Stop it; a USB reset cannot take a device from its holder. ${retry}`;
    case 'access':
      return `The driver could not open the UPS's USB device (${wanted}). In Docker, map the bus read-write (/dev/bus/usb) and keep NUT_USER=root; on a host, NUT's udev rules (62-nut-usbups.rules) give the group nut access: compare ls -l /dev/bus/usb/<bus>/<device> with the driver's user. NUT before 2.8.5 says "insufficient permissions" for a device that fails to answer, too: then restarts and a USB reset follow as for any failure.`;
    case 'not-found':
      return `No USB device matches ${wanted}. Check the cable and that the UPS is on; in Docker, that the USB bus is mapped into the container (/dev/bus/usb); and that vendorid/productid in ups.conf match lsusb (CyberPower is 0764). ${seen}`;
  }
}
