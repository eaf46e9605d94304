/**
 * What a driver's own log lines tell the supervisor. Pure: one line in, a signal or nothing out.
 *
 * Why: blazer_ser and blazer_usb (drivers/blazer.c, unchanged 2.8.0–2.8.5) log "Communications with UPS lost:
 * status read failed!" at WARNING on the fourth failed status poll in a row and flag DATASTALE only on the fifth,
 * one poll interval (2 s by default) later. By the time that line is written the driver has applied its own
 * tolerance: it is the driver's word that its data is stale, one poll sooner.
 *
 * Only drivers known to log it after their own retries count. Serial drivers that report through NUT's
 * ser_comm_fail() (apcsmart, bestups, …) write the same words on the FIRST failed read and often recover at the
 * next poll; restarting them on that line would turn one glitch into a restart. nutdrv_qx writes it at debug
 * level only. For those, their DATASTALE (a short blip filter) and upsd's ERR DATA-STALE (STALE_GRACE) remain.
 */
export type DriverLogSignal = 'comm-lost' | 'device-gone';

/** Drivers whose comm-lost WARNING comes only after their own retries, one poll before they flag DATASTALE. */
const COMM_LOST_AFTER_RETRIES: ReadonlySet<string> = new Set(['blazer_ser', 'blazer_usb']);

const COMM_LOST = /^Communications with (?:the )?UPS lost\b/;

/**
 * usbhid-ups after its USB device went away: each failed transfer logs "nut_libusb_<call>: No such device (it may
 * have been disconnected)". In interrupt mode one such line comes, then the driver reconnects by itself. With
 * `pollonly` on NUT 2.8.0–2.8.1 it never does (the error code is lost on the way up, NUT #1986): the line comes for
 * every report of every poll while upsd keeps serving the last values as fresh. The repetition is the tell.
 */
const DEVICE_GONE = /^nut_libusb_\w+: No such device\b/;
const USB_HID_DRIVERS: ReadonlySet<string> = new Set(['usbhid-ups']);

/** The signal a line of the driver's stderr carries, if any. */
export function driverLogSignal(driver: string, line: string): DriverLogSignal | undefined {
  const text = line.trim();
  if (COMM_LOST_AFTER_RETRIES.has(driver)) return COMM_LOST.test(text) ? 'comm-lost' : undefined;
  if (USB_HID_DRIVERS.has(driver)) return DEVICE_GONE.test(text) ? 'device-gone' : undefined;
  return undefined;
}

/**
 * "No such device" lines that span more than one of the driver's updates: one burst is a driver noticing a replug
 * (it reconnects); lines still coming a second later are a driver that will not. True once `count` lines came
 * within `windowMs`, the first and last at least `minSpanMs` apart.
 */
export class RepeatedLine {
  private times: number[] = [];
  constructor(
    private readonly count = 3,
    private readonly minSpanMs = 1000,
    private readonly windowMs = 10_000,
  ) {}

  feed(at: number): boolean {
    this.times = [...this.times.filter((t) => at - t <= this.windowMs), at];
    const first = this.times[0] as number;
    return this.times.length >= this.count && at - first >= this.minSpanMs;
  }

  reset(): void {
    this.times = [];
  }
}
