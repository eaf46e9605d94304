// Variable changes in dummy-ups .dev files and the time until they show on MQTT.
//
// A tick every 0.5–1 s (uniformly random) changes `ups.load` of the next UPS, round robin, skipping a UPS whose last
// change is not on MQTT yet (a second write would overwrite the first before the driver reads it). After its change
// is published a UPS waits a random 0..driver cycle before it may be picked again, so that changes land at a uniformly
// random phase of the driver's own poll cycle even with one UPS.
//
// Each change is timed from `lab.writeDev` returning to the first `<base>/<ups>` state message carrying the new
// value. Optionally an upsd probe (GET VAR every 20 ms on a separate connection) notes when upsd first serves the
// value: writeDev → upsd is the driver's share (it notices the new mtime only on its own poll), upsd → MQTT
// approximates the agent's share (the agent gets the driver's SETINFO broadcast at the same moment upsd does).
import type { NutLab } from '../../test/fixtures/nutLab.js';
import { sleep } from '../../test/fixtures/proc.js';
import { UpsdObserver } from '../../test/fixtures/upsdObserver.js';

export interface Change {
  ups: string;
  value: number;
  /** Date.now() when writeDev returned. */
  writtenAt: number;
  /** First state message on MQTT with the value. */
  mqttAt?: number;
  /** First GET VAR answer from upsd with the value (upsd probe only). */
  upsdAt?: number;
  /**
   * State messages that showed another value AFTER this one was on MQTT and before the UPS's next change: the
   * published state went back to an older value (a flap).
   */
  regressions?: number;
}

const VARIABLE = 'ups.load';
const UPSD_PROBE_MS = 20;
/** A change not on MQTT after this long counts as missed. */
export const CHANGE_TIMEOUT_MS = 15_000;

export class ChangeDriver {
  readonly changes: Change[] = [];
  private readonly pending = new Map<string, Change>();
  private readonly freeAt = new Map<string, number>();
  /** The last change written per UPS. */
  private readonly latest = new Map<string, Change>();
  private readonly values = new Map<string, number>();
  private next = 0;
  private stopped = false;
  private readonly probes = new Set<Promise<void>>();
  private readonly upsd: UpsdObserver | undefined;

  constructor(
    private readonly lab: NutLab,
    private readonly upses: readonly string[],
    private readonly opts: { driverCycleMs: number; upsdProbe: boolean },
  ) {
    for (const u of lab.upses) this.values.set(u.name, Number(u.dev?.[VARIABLE] ?? 0));
    if (opts.upsdProbe) this.upsd = new UpsdObserver(lab.port);
  }

  /** For the MQTT watcher: a state message of `ups` arrived at `t`. */
  onState(ups: string, state: Record<string, unknown>, t: number): void {
    const last = this.latest.get(ups);
    if (last && last.mqttAt !== undefined && !this.pending.has(ups) && state[VARIABLE] !== last.value)
      last.regressions = (last.regressions ?? 0) + 1;
    const change = this.pending.get(ups);
    if (!change || state[VARIABLE] !== change.value) return;
    // A message can beat writeDev's return only by the few µs between the file write and utimes: count it as 0.
    change.mqttAt = Math.max(t, change.writtenAt || t);
    this.settle(change, t);
  }

  /** Changes until `untilMs` (Date.now() based). */
  async run(untilMs: number): Promise<void> {
    while (!this.stopped && Date.now() < untilMs) {
      await sleep(500 + Math.random() * 500);
      if (this.stopped || Date.now() >= untilMs) break;
      const ups = this.pickFree();
      if (ups !== undefined) await this.change(ups);
    }
  }

  /** Waits for the changes still on their way (bounded), then stops the upsd probes. */
  async drain(): Promise<void> {
    this.stopped = true;
    const deadline = Date.now() + CHANGE_TIMEOUT_MS;
    while (this.pending.size > 0 && Date.now() < deadline) await sleep(50);
    this.pending.clear();
    await Promise.all([...this.probes]);
    await this.upsd?.close();
  }

  private pickFree(): string | undefined {
    const now = Date.now();
    for (let i = 0; i < this.upses.length; i++) {
      const ups = this.upses[(this.next + i) % this.upses.length] as string;
      if (this.pending.has(ups) || (this.freeAt.get(ups) ?? 0) > now) continue;
      this.next = (this.next + i + 1) % this.upses.length;
      return ups;
    }
    return undefined;
  }

  private async change(ups: string): Promise<void> {
    const previous = this.values.get(ups) ?? 0;
    // 10..89, never the current value: the agent publishes a state only when something changed.
    let value = 10 + ((previous - 10 + 1 + 80) % 80);
    if (value === previous) value = 10 + ((value - 10 + 1) % 80);
    this.values.set(ups, value);
    const change: Change = { ups, value, writtenAt: 0 };
    this.pending.set(ups, change);
    this.latest.set(ups, change);
    this.changes.push(change);
    await this.lab.writeDev(ups, { [VARIABLE]: value });
    change.writtenAt = Date.now();
    if (change.mqttAt !== undefined) change.mqttAt = change.writtenAt;
    setTimeout(() => {
      if (this.pending.get(ups) === change) this.settle(change, Date.now());
    }, CHANGE_TIMEOUT_MS).unref();
    if (this.upsd) {
      const probe = this.probeUpsd(change);
      this.probes.add(probe);
      void probe.finally(() => this.probes.delete(probe));
    }
  }

  private settle(change: Change, t: number): void {
    if (this.pending.get(change.ups) !== change) return;
    this.pending.delete(change.ups);
    this.freeAt.set(change.ups, t + Math.random() * this.opts.driverCycleMs);
  }

  private async probeUpsd(change: Change): Promise<void> {
    const deadline = change.writtenAt + CHANGE_TIMEOUT_MS;
    const upsd = this.upsd;
    if (!upsd) return;
    while (Date.now() < deadline && change.upsdAt === undefined) {
      // An error (upsd busy, the connection dropped) is no number: try again.
      const s = await upsd.read(change.ups, VARIABLE);
      if (Number(s.value) === change.value) {
        change.upsdAt = s.t;
        return;
      }
      // Stop early once MQTT has it and upsd evidently was not asked in time (the split is then unknown).
      if (this.stopped && change.mqttAt !== undefined) return;
      await sleep(UPSD_PROBE_MS);
    }
  }
}
