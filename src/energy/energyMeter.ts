import { join } from 'node:path';
import type { EventBus } from '../events.js';
import type { Extension } from '../extension.js';
import type { Logger } from '../logger.js';
import type { SupervisorPort } from '../supervisor/port.js';
import type { UpsSnapshot } from '../supervisor/types.js';
import { addSample, type EnergyTotal, maxGapMs } from './energyIntegrator.js';
import { ENERGY_FILE, loadEnergyFile, saveEnergyFile } from './energyStore.js';
import { type PowerReading, powerOf } from './powerSource.js';

/** How often a changed total is written to the state file (and always on stop). */
export const ENERGY_SAVE_INTERVAL_MS = 60_000;

export interface EnergyMeterDeps {
  supervisor: Pick<SupervisorPort, 'snapshot'>;
  bus: EventBus;
  logger: Logger;
  upsNames: readonly string[];
  /** DATA_PATH: the folder of the state file. */
  dataPath: string;
  /** POLL_INTERVAL: one sample per poll; gaps of more than a few of these add nothing. */
  pollIntervalMs: number;
  /** HA_POWER_FACTOR; 0 = unset. */
  powerFactor: number;
  saveIntervalMs?: number;
  now?: () => number;
}

export interface EnergyReading {
  power: PowerReading;
  kwh: number;
}

/**
 * Integrates every UPS's power into an energy total: one sample per poll interval, and one whenever the UPS's data or
 * supervision state changes (so a change is integrated from the moment the agent saw it). Only fresh data counts
 * (supervision state `ok`). Totals live in DATA_PATH/energy.json, written at most every minute and on stop; a
 * missing or corrupt file starts every total from 0 with one warning, a failed write is logged and retried later.
 */
export class EnergyMeter implements Extension {
  readonly name = 'energy';
  private readonly deps: EnergyMeterDeps;
  private readonly log: Logger;
  private readonly now: () => number;
  private totals = new Map<string, EnergyTotal>();
  private dirty = false;
  private saveFailing = false;
  private sampleTimer: NodeJS.Timeout | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();

  constructor(deps: EnergyMeterDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ module: 'energy' });
    this.now = deps.now ?? Date.now;
  }

  async start(): Promise<void> {
    const { bus, dataPath } = this.deps;
    const loaded = await loadEnergyFile(dataPath);
    const file = join(dataPath, ENERGY_FILE);
    // A first start has no state file: that is news, not a warning. An unreadable or corrupt one is.
    if (loaded.ok) this.log.info(`energy totals continue from ${file}`);
    else if (loaded.missing)
      this.log.info(`energy totals start from 0 (no ${file} yet; written as they grow)`);
    else this.log.warn(`energy totals start from 0: state file ${file} unusable: ${loaded.problem}`);
    this.totals = loaded.totals;
    bus.on('ups-updated', (e) => this.sample(e.snapshot, e.at), this);
    bus.on('state-changed', (e) => this.sampleNow(e.ups), this);
    this.sampleTimer = setInterval(() => {
      for (const ups of this.deps.upsNames) this.sampleNow(ups);
    }, this.deps.pollIntervalMs);
    this.saveTimer = setInterval(() => void this.save(), this.deps.saveIntervalMs ?? ENERGY_SAVE_INTERVAL_MS);
  }

  async stop(): Promise<void> {
    this.deps.bus.removeOwner(this);
    clearInterval(this.sampleTimer);
    clearInterval(this.saveTimer);
    await this.save();
  }

  /** The UPS's power and energy total, when it has a power source; undefined otherwise. */
  reading(ups: string, snapshot: UpsSnapshot): EnergyReading | undefined {
    const power = powerOf(snapshot.vars, this.deps.powerFactor);
    if (!power) return undefined;
    return { power, kwh: this.totals.get(ups)?.kwh ?? 0 };
  }

  private sampleNow(ups: string): void {
    const snapshot = this.deps.supervisor.snapshot(ups);
    if (snapshot) this.sample(snapshot, this.now());
  }

  private sample(snapshot: UpsSnapshot, at: number): void {
    if (!this.deps.upsNames.includes(snapshot.name)) return;
    const fresh = snapshot.supervisor.state === 'ok';
    const power = fresh ? powerOf(snapshot.vars, this.deps.powerFactor) : undefined;
    // Fresh data that lacks a power variable for a moment (a driver re-reading its data) says nothing about the
    // power: skip it, and the next reading spans the gap if it is short. Data that is not fresh breaks the chain.
    if (fresh && !power) return;
    const before = this.totals.get(snapshot.name) ?? { kwh: 0 };
    if (!power && before.last === undefined) return;
    const maxGap = maxGapMs(this.deps.pollIntervalMs);
    const after = addSample(before, power && { at, watts: power.watts }, maxGap);
    if (
      power &&
      before.last &&
      at !== before.last.at &&
      after.kwh === before.kwh &&
      power.watts + before.last.watts > 0
    )
      this.log.debug(
        { ups: snapshot.name, gapMs: at - before.last.at, maxGapMs: maxGap },
        'energy: a gap or clock step between two readings adds nothing',
      );
    this.totals.set(snapshot.name, after);
    this.dirty = true;
  }

  /** Writes the totals when they changed; one at a time, never throws. */
  private save(): Promise<void> {
    this.saving = this.saving.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      try {
        await saveEnergyFile(this.deps.dataPath, this.totals);
        if (this.saveFailing) this.log.info('energy state file written again');
        this.saveFailing = false;
      } catch (error) {
        this.dirty = true;
        if (!this.saveFailing)
          this.log.warn({ err: error }, `cannot write the energy state file in ${this.deps.dataPath}`);
        this.saveFailing = true;
      }
    });
    return this.saving;
  }
}
