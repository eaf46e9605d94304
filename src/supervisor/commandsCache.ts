/**
 * When to ask upsd `LIST CMD` for a UPS again. Pure: the decisions, with the clock passed in.
 *
 * Instant commands change only when a driver (re)starts, so a UPS's list is asked once per driver start and then
 * every COMMANDS_REFRESH_MS (a driver may add commands later). An empty answer is ambiguous: upsd answers it for a
 * driver that has not connected yet, and for a driver that lists no command at all. It counts as the answer only
 * when the same cycle's poll of that UPS had data (the driver was connected); else it is asked again next cycle.
 */

/** Instant commands change only with a driver (re)start; asking every 5 minutes catches what a driver adds later. */
export const COMMANDS_REFRESH_MS = 300_000;

export class CommandsCache {
  /** UPS → when its list was last taken as the answer. */
  private readonly fetchedAt = new Map<string, number>();

  /** The UPSes whose list should be asked for in this cycle. */
  due(upsNames: readonly string[], now: number): string[] {
    return upsNames.filter((name) => {
      const at = this.fetchedAt.get(name);
      return at === undefined || now - at >= COMMANDS_REFRESH_MS || now < at;
    });
  }

  /** An answer: final when it lists commands, or when the driver was connected (its poll had data). */
  answered(ups: string, list: readonly string[], driverConnected: boolean, now: number): void {
    if (list.length > 0 || driverConnected) this.fetchedAt.set(ups, now);
  }

  /** The UPS's driver started (or restarted): its commands may differ, ask again. */
  forget(ups: string): void {
    this.fetchedAt.delete(ups);
  }
}
