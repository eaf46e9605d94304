import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import { mergePolledVars } from './varMerge.js';

export interface UpsReadingsDeps {
  ups: string;
  bus: EventBus;
  log: Logger;
  now: () => number;
  /** The variables or commands changed: the supervisor publishes a new snapshot (`ups-updated`). */
  changed: () => void;
}

/**
 * What is known of one UPS's data, from upsd's polls and the driver's own feed: its NUT variables, its instant
 * commands and its ups.status. A status change is emitted (`status-changed`) from whichever source saw it first.
 */
export class UpsReadings {
  private readonly deps: UpsReadingsDeps;
  private vars = new Map<string, string>();
  private commands: string[] = [];
  private status: string | undefined;
  /** When the driver's feed last set or deleted each variable: such values are newer than a poll sent earlier. */
  private readonly feedAt = new Map<string, number>();

  constructor(deps: UpsReadingsDeps) {
    this.deps = deps;
  }

  /** Copies for a snapshot. */
  current(): { vars: Record<string, string>; commands: string[] } {
    return { vars: Object.fromEntries(this.vars), commands: [...this.commands] };
  }

  /**
   * upsd's LIST VAR answer to a poll sent at `sentAt`. Returns the ups.status it carried, undefined when none (or
   * WAIT: upsd has no data from the driver yet, and what the driver's own feed already told us is better than an
   * empty answer, so a WAIT answer changes nothing).
   */
  applyPoll(polled: ReadonlyMap<string, string>, sentAt: number): string | undefined {
    const status = polled.get('ups.status');
    if (status === 'WAIT') return undefined;
    const statusFromFeed = (this.feedAt.get('ups.status') ?? 0) > sentAt;
    const { vars, superseded } = mergePolledVars(polled, this.vars, this.feedAt, sentAt);
    for (const name of superseded) this.feedAt.delete(name);
    const changed = vars.size !== this.vars.size || [...vars].some(([k, v]) => this.vars.get(k) !== v);
    this.vars = vars;
    if (changed) this.deps.changed();
    if (status !== undefined && !statusFromFeed) this.noteStatus(status, 'upsd');
    return status;
  }

  /** A variable from the driver's feed (`undefined`: deleted). */
  feedVar(name: string, value: string | undefined): void {
    this.feedAt.set(name, this.deps.now());
    if (value === undefined) this.vars.delete(name);
    else this.vars.set(name, value);
    if (name === 'ups.status' && value !== undefined) this.noteStatus(value, 'driver');
    this.deps.changed();
  }

  /** Instant commands upsd lists for this UPS. Part of the snapshot (MQTT offers them as buttons). */
  setCommands(commands: readonly string[]): void {
    const sorted = [...commands].sort();
    const changed = sorted.length !== this.commands.length || sorted.some((c, i) => c !== this.commands[i]);
    this.commands = sorted;
    if (changed) this.deps.changed();
  }

  /** A ups.status seen (WAIT is not a status); emits `status-changed` when it differs from the last one. */
  noteStatus(status: string, source: 'driver' | 'upsd'): void {
    if (status === 'WAIT' || status === this.status) return;
    const from = this.status;
    this.status = status;
    this.deps.log.info({ from, to: status, source }, `ups.status ${from ?? '(none)'} → ${status}`);
    this.deps.bus.emit('status-changed', {
      ups: this.deps.ups,
      from,
      to: status,
      source,
      at: this.deps.now(),
    });
  }
}
