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
export type DriverLogSignal = 'comm-lost';

/** Drivers whose comm-lost WARNING comes only after their own retries, one poll before they flag DATASTALE. */
const COMM_LOST_AFTER_RETRIES: ReadonlySet<string> = new Set(['blazer_ser', 'blazer_usb']);

const COMM_LOST = /^Communications with (?:the )?UPS lost\b/;

/** The signal a line of the driver's stderr carries, if any. */
export function driverLogSignal(driver: string, line: string): DriverLogSignal | undefined {
  if (!COMM_LOST_AFTER_RETRIES.has(driver)) return undefined;
  return COMM_LOST.test(line.trim()) ? 'comm-lost' : undefined;
}
