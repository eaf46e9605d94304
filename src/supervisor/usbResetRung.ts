import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import type { UpsConfEntry } from '../nut/confParser.js';
import { isUsbDriver, usbSelector } from '../usb/usbMatch.js';
import { UsbResetter } from '../usb/usbReset.js';

export interface UsbResetRungDeps {
  ups: UpsConfEntry;
  timings: { usbReset: boolean; usbResetAfter: number; usbResetOnStuck: boolean; sysfsRoot: string };
  bus: EventBus;
  log: Logger;
  now: () => number;
  /** Tests bring a resetter on a fake sysfs; by default one on SYSFS_ROOT. */
  resetter?: UsbResetter;
}

/**
 * The USB reset rung of one UPS: once restarts alone have failed USB_RESET_AFTER times for a fault, the UPS's USB
 * device is reset before each further restart (between the old driver's exit and the new one's start, when nothing
 * holds the device while it re-enumerates).
 */
export class UsbResetRung {
  private readonly deps: UsbResetRungDeps;
  private readonly resetter: UsbResetter;

  private constructor(deps: UsbResetRungDeps, resetter: UsbResetter) {
    this.deps = deps;
    this.resetter = resetter;
  }

  /** Undefined for a non-USB driver, with USB_RESET off, or without a USB bus in sysfs (said once in the log). */
  static create(deps: UsbResetRungDeps): UsbResetRung | undefined {
    const { ups, timings, log } = deps;
    if (!timings.usbReset || !isUsbDriver(ups.driver)) return undefined;
    const resetter = deps.resetter ?? new UsbResetter({ sysfsRoot: timings.sysfsRoot });
    if (!resetter.available()) {
      log.info(`USB reset rung off for ${ups.driver}: no USB bus under ${resetter.devicesDir} (SYSFS_ROOT)`);
      return undefined;
    }
    return new UsbResetRung(deps, resetter);
  }

  /**
   * Before recovery attempt `attempt` (1-based): resets the device when enough attempts have failed, or at once when
   * the old driver was stuck in the kernel (`stuck`: its words, procStuck.ts) and USB_RESET_ON_STUCK is on.
   */
  async beforeAttempt(attempt: number, stuck?: string): Promise<void> {
    const failed = attempt - 1;
    const { bus, ups, log, now, timings } = this.deps;
    const onStuck = stuck !== undefined && timings.usbResetOnStuck;
    if (failed < timings.usbResetAfter && !onStuck) return;
    const why = onStuck ? `the old driver ${stuck}` : `${failed} failed restarts`;
    const outcome = await this.resetter.reset(usbSelector(ups.options));
    const fields = { result: outcome.result, device: outcome.device, failedAttempts: failed, stuck };
    if (outcome.result === 'reset') log.warn(fields, `USB device reset (${why}): ${outcome.detail}`);
    else log.error(fields, `USB device not reset (${outcome.result}; ${why}): ${outcome.detail}`);
    bus.emit('usb-reset', { ups: ups.name, ...outcome, at: now() });
  }
}
