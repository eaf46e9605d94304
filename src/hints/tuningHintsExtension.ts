import type { EventBus } from '../events.js';
import type { Extension } from '../extension.js';
import type { Logger } from '../logger.js';
import type { UpsConfEntry } from '../nut/confParser.js';
import type { NutVersion } from '../nut/nutVersion.js';
import type { SupervisorPort } from '../supervisor/port.js';
import { EPISODE_WINDOW_MS, type EpisodeCounter, type EpisodeKind } from './episodeCounter.js';
import { HintRepeat, tuningHints } from './tuningHints.js';

export interface TuningHintsDeps {
  bus: EventBus;
  supervisor: Pick<SupervisorPort, 'snapshot'>;
  /** Shared with the state publisher and the metrics, which read it. */
  episodes: EpisodeCounter;
  /** ups.conf's sections: the driver and its options (vendorid, pollonly, …) per UPS. */
  upses: readonly UpsConfEntry[];
  /** The running NUT, known once the supervisor has started. */
  nutVersion: () => NutVersion | undefined;
  /** HINT_EPISODES_PER_DAY; 0: count, but never hint. */
  threshold: number;
  logger: Logger;
  now?: () => number;
}

/**
 * Counts each UPS's fault episodes (stale, hang, spin) from the bus and, when a kind reaches the threshold within
 * 24 h, publishes the hints that fit its driver and the NUT version (`tuning-hint`, and a warning): the first at
 * once, each again at most once a day while episodes keep coming.
 */
export class TuningHintsExtension implements Extension {
  readonly name = 'tuning-hints';
  private readonly deps: TuningHintsDeps;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly entries: Map<string, UpsConfEntry>;
  private readonly repeat = new HintRepeat(EPISODE_WINDOW_MS);

  constructor(deps: TuningHintsDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ module: 'tuning-hints' });
    this.now = deps.now ?? Date.now;
    this.entries = new Map(deps.upses.map((entry) => [entry.name, entry]));
  }

  async start(): Promise<void> {
    const { bus } = this.deps;
    bus.on('stale', (e) => this.onFault(e.ups, 'stale'), this);
    bus.on('hung', (e) => this.onFault(e.ups, 'hang'), this);
    bus.on('driver-spinning', (e) => this.onFault(e.ups, 'spin'), this);
  }

  async stop(): Promise<void> {
    this.deps.bus.removeOwner(this);
  }

  /**
   * One fault emits several of these events: upsd answers DATA-STALE on every poll until the driver is back, and a
   * hung driver's data goes stale too. The supervisor emits each before its state machine takes it in, so the state
   * read here is the one the fault found: only a fault that finds the UPS `ok` starts an episode; everything until
   * it is `ok` again belongs to that episode, under the kind that flagged it first.
   */
  private onFault(ups: string, kind: EpisodeKind): void {
    const snapshot = this.deps.supervisor.snapshot(ups);
    if (snapshot?.supervisor.state !== 'ok') return;
    const { episodes } = this.deps;
    const count = episodes.record(ups, kind, this.now());
    this.log.debug({ ups, kind, count24h: count }, `${kind} episode: ${count} in 24 h`);
    const entry = this.entries.get(ups);
    if (!entry || this.deps.threshold <= 0) return;
    const confVendorId = entry.options.vendorid;
    const counts = episodes.counts(ups);
    const hints = tuningHints({
      ups,
      driver: entry.driver,
      options: entry.options,
      vendorId: typeof confVendorId === 'string' ? confVendorId : snapshot.vars['ups.vendorid'],
      nutVersion: this.deps.nutVersion(),
      counts,
      threshold: this.deps.threshold,
    });
    const at = this.now();
    for (const hint of hints) {
      if (!this.repeat.take(ups, hint.id, at)) continue;
      const count24h = counts[hint.kind];
      this.log.warn({ ups, hint: hint.id, kind: hint.kind, count24h }, `tuning hint: ${hint.text}`);
      this.deps.bus.emit('tuning-hint', {
        ups,
        hint: hint.id,
        kind: hint.kind,
        count24h,
        threshold: this.deps.threshold,
        text: hint.text,
        options: hint.options,
        at,
      });
    }
  }
}
