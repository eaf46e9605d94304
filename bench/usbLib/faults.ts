// The USB faults bench:usb injects into the simulated CyberPower (test/fixtures/usbSim), as the field reports them.
import type { SimulatedUsbUps } from '../../test/fixtures/usbSim/usbUps.js';

export interface UsbFaultCase {
  /** ups.conf options the fault needs (the frozen case happens with `pollonly`). */
  options?: Record<string, string>;
  inject(ups: SimulatedUsbUps): Promise<void>;
  /** A device that is held or away comes back this long after the fault. */
  repairAfterMs?: number;
  repair?(ups: SimulatedUsbUps): Promise<void>;
}

export const USB_FAULTS: Record<string, UsbFaultCase> = {
  /** A transfer blocks the driver in the "kernel": SIGTERM ignored until SIGKILL or a USB reset (#2017, #3576). */
  wedge: { inject: (u) => u.setFault('wedge') },
  /** `pollonly`, then a re-enumeration: NUT ≤ 2.8.1 loops on "No such device" while upsd serves old data (#1986). */
  frozen: { options: { pollonly: 'true' }, inject: (u) => u.reenumerate(200) },
  /** Every transfer times out until a USB reset (#3116-like). */
  timeout: { inject: (u) => u.setFault('timeout') },
  /** Transfers fail with I/O errors until a USB reset (#3116, #2854). */
  io: { inject: (u) => u.setFault('io') },
  /** A glitch: gone and back at a new address within 0.2 s, interrupt mode (#2742). */
  replug: { inject: (u) => u.reenumerate(200) },
  /** Another program claims the interface across a re-enumeration, for 10 s (#646, #1675). */
  claimed: {
    inject: async (u) => {
      await u.setFault('busy');
      await u.reenumerate(200);
    },
    repairAfterMs: 10_000,
    repair: (u) => u.setFault('none'),
  },
  /** Unplugged for 10 s. */
  unplugged: { inject: (u) => u.unplug(), repairAfterMs: 10_000, repair: (u) => u.plug() },
};
