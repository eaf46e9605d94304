import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  addSample,
  type EnergyTotal,
  MAX_GAP_POLL_INTERVALS,
  maxGapMs,
} from '../../src/energy/energyIntegrator.js';
import { EnergyMeter } from '../../src/energy/energyMeter.js';
import {
  ENERGY_FILE,
  loadEnergyFile,
  parseEnergyFile,
  saveEnergyFile,
} from '../../src/energy/energyStore.js';
import { powerOf } from '../../src/energy/powerSource.js';
import { EventBus } from '../../src/events.js';
import type { SupervisionState, UpsSnapshot } from '../../src/supervisor/types.js';

describe('powerOf: the power source, best first', () => {
  it('takes ups.realpower where the UPS measures it', () => {
    expect(powerOf({ 'ups.realpower': '162', 'ups.load': '50', 'ups.realpower.nominal': '900' }, 0)).toEqual({
      watts: 162,
      source: 'ups.realpower',
    });
  });

  it('else ups.load % × ups.realpower.nominal (padded values too)', () => {
    expect(powerOf({ 'ups.load': ' 18 ', 'ups.realpower.nominal': '900' }, 0.9)).toEqual({
      watts: 162,
      source: 'ups.load*ups.realpower.nominal',
    });
  });

  it('else ups.load × ups.power.nominal (VA) × the power factor, only when one is set', () => {
    const vars = { 'ups.load': '25', 'ups.power.nominal': '1500' };
    expect(powerOf(vars, 0)).toBeUndefined();
    expect(powerOf(vars, 0.6)).toEqual({ watts: 225, source: 'ups.load*ups.power.nominal*pf' });
  });

  it('has none without a load, with junk, negative or zero ratings', () => {
    expect(powerOf({ 'ups.realpower.nominal': '900' }, 0.6)).toBeUndefined();
    expect(powerOf({ 'ups.load': 'n/a', 'ups.realpower.nominal': '900' }, 0)).toBeUndefined();
    expect(powerOf({ 'ups.load': '-3', 'ups.realpower.nominal': '900' }, 0)).toBeUndefined();
    expect(powerOf({ 'ups.load': '30', 'ups.realpower.nominal': '0' }, 0)).toBeUndefined();
    expect(powerOf({ 'ups.realpower': '', 'ups.load': '10', 'ups.realpower.nominal': '1000' }, 0)).toEqual({
      watts: 100,
      source: 'ups.load*ups.realpower.nominal',
    });
  });
});

describe('addSample: trapezoid over the actual sample times', () => {
  const GAP = maxGapMs(1000);
  const run = (samples: Array<[number, number] | undefined>, start: EnergyTotal = { kwh: 0 }) =>
    samples.reduce<EnergyTotal>((t, s) => addSample(t, s && { at: s[0], watts: s[1] }, GAP), start);

  it('depends on POLL_INTERVAL: a few poll intervals', () => {
    expect(GAP).toBe(MAX_GAP_POLL_INTERVALS * 1000);
    expect(MAX_GAP_POLL_INTERVALS).toBeGreaterThanOrEqual(3);
  });

  it('integrates constant and ramping power exactly, over irregular sample times', () => {
    // 1000 W for one hour in uneven steps: 1 kWh.
    const times = [0];
    for (let t = 0; t < 3_600_000; ) {
      t = Math.min(3_600_000, t + 700 + (times.length % 5) * 300);
      times.push(t);
    }
    expect(run(times.map((t) => [t, 1000])).kwh).toBeCloseTo(1, 12);
    // A ramp 0 → 2000 W over 4 s, sampled at 0, 1, 3, 4 s: the trapezoid is exact for a linear signal.
    const ramp = run([
      [0, 0],
      [1000, 500],
      [3000, 1500],
      [4000, 2000],
    ]);
    expect(ramp.kwh * 3.6e6).toBeCloseTo(4000, 9); // Ws = 0.5 × 2000 W × 4 s
  });

  it('adds nothing across a gap longer than the limit, and carries on after it', () => {
    const total = run([
      [0, 3600],
      [1000, 3600],
      [1000 + GAP + 1, 3600],
      [2000 + GAP + 1, 3600],
    ]);
    expect(total.kwh * 1000).toBeCloseTo(2, 9); // two 1-s intervals of 3600 W = 2 Wh
    expect(
      run([
        [0, 3600],
        [GAP, 3600],
      ]).kwh * 1000,
    ).toBeCloseTo(GAP / 1000, 9); // exactly the limit still counts
  });

  it('adds nothing for a sample without fresh data (a break), nor for the gap to the next one', () => {
    const total = run([[0, 3600], [1000, 3600], undefined, [2000, 3600], [3000, 3600]]);
    expect(total.kwh * 1000).toBeCloseTo(2, 9);
  });

  it('adds nothing when the clock steps backwards or stands still, and goes on from the new time', () => {
    const total = run([
      [10_000, 3600],
      [11_000, 3600],
      [5_000, 3600],
      [5_000, 7200],
      [6_000, 7200],
    ]);
    // 1 Wh before the step back, then 1 s of 7200 W = 2 Wh; nothing for the step itself.
    expect(total.kwh * 1000).toBeCloseTo(3, 9);
  });

  it('never decreases: negative or non-finite readings break the chain', () => {
    let total: EnergyTotal = { kwh: 0.5 };
    const kwhs: number[] = [];
    for (const [at, watts] of [
      [0, 100],
      [1000, -50],
      [2000, Number.NaN],
      [3000, 100],
      [4000, 100],
    ] as const) {
      total = addSample(total, { at, watts }, GAP);
      kwhs.push(total.kwh);
    }
    expect(kwhs).toEqual([...kwhs].sort((a, b) => a - b));
    expect((total.kwh - 0.5) * 3.6e6).toBeCloseTo(100, 6); // only 3 s → 4 s
  });

  it('continues a restored total (the state file) when the restart was within the gap limit', () => {
    const restored: EnergyTotal = { kwh: 12.5, last: { at: 1000, watts: 3600 } };
    expect((run([[2000, 3600]], restored).kwh - 12.5) * 1000).toBeCloseTo(1, 9);
    expect(run([[1000 + GAP + 1, 3600]], restored).kwh).toBe(12.5);
  });
});

describe('the energy state file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'energy-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('round-trips totals and last samples, written atomically (no temporary file left)', async () => {
    const totals = new Map<string, EnergyTotal>([
      ['ups1', { kwh: 1.25, last: { at: 1_700_000_000_000, watts: 162 } }],
      ['ups2', { kwh: 0 }],
    ]);
    await saveEnergyFile(join(dir, 'sub'), totals);
    expect(await readdir(join(dir, 'sub'))).toEqual([ENERGY_FILE]);
    const loaded = await loadEnergyFile(join(dir, 'sub'));
    expect(loaded).toEqual({ ok: true, totals });
  });

  it('says what is wrong with a missing, corrupt or foreign file, and gives no totals', async () => {
    const missing = await loadEnergyFile(dir);
    expect(missing).toMatchObject({ ok: false, problem: expect.stringMatching(/does not exist/) });
    expect(missing.totals.size).toBe(0);
    for (const text of [
      '{"version":1,"ups":{"a":{"kwh":1',
      '[]',
      '{"version":2,"ups":{}}',
      '{"version":1,"ups":{"a":{"kwh":-1}}}',
      '{"version":1,"ups":{"a":{"kwh":"1"}}}',
    ]) {
      const parsed = parseEnergyFile(text);
      expect(parsed.ok, text).toBe(false);
      expect(parsed.totals.size, text).toBe(0);
    }
    // A bad last sample only drops the sample: the total is kept.
    expect(parseEnergyFile('{"version":1,"ups":{"a":{"kwh":2,"last":{"at":"x","watts":1}}}}')).toEqual({
      ok: true,
      totals: new Map([['a', { kwh: 2 }]]),
    });
  });
});

describe('EnergyMeter', () => {
  let dir: string;
  let logLines: Array<{ level: number; msg: string }>;
  let state: SupervisionState;
  let vars: Record<string, string>;
  let clock: number;
  const bus = new EventBus();

  const snapshot = (): UpsSnapshot => ({
    name: 'ups1',
    driver: 'dummy-ups',
    vars: { ...vars },
    commands: [],
    supervisor: { state, restarts: 0 },
  });
  const meter = () =>
    new EnergyMeter({
      supervisor: { snapshot: (ups) => (ups === 'ups1' ? snapshot() : undefined) },
      bus,
      logger: pino({ level: 'info' }, { write: (line: string) => logLines.push(JSON.parse(line)) }),
      upsNames: ['ups1'],
      dataPath: dir,
      pollIntervalMs: 3_600_000, // the test drives the samples through the bus
      powerFactor: 0,
      saveIntervalMs: 3_600_000,
      now: () => clock,
    });
  const update = (at: number) => {
    clock = at;
    bus.emit('ups-updated', { snapshot: snapshot(), at });
  };
  const warnings = () => logLines.filter((l) => l.level === 40).map((l) => l.msg);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'energy-meter-'));
    logLines = [];
    state = 'ok';
    vars = { 'ups.load': '50', 'ups.realpower.nominal': '7200' }; // 3600 W: 1 Wh per second
    clock = 0;
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('starts from 0 without a state file (a first start: info, no warning), integrates, and saves on stop', async () => {
    const m = meter();
    await m.start();
    expect(warnings()).toEqual([]);
    expect(logLines.map((l) => l.msg)).toContainEqual(
      expect.stringMatching(/^energy totals start from 0 \(no .*energy\.json yet/),
    );
    for (let t = 0; t <= 10_000; t += 1000) update(t);
    expect(m.reading('ups1', snapshot())).toEqual({
      power: { watts: 3600, source: 'ups.load*ups.realpower.nominal' },
      kwh: expect.closeTo(0.01, 12),
    });
    await m.stop();
    const file = JSON.parse(await readFile(join(dir, ENERGY_FILE), 'utf8'));
    expect(file.ups.ups1.kwh).toBeCloseTo(0.01, 12);
    expect(file.ups.ups1.last).toEqual({ at: 10_000, watts: 3600 });
    expect(bus.listenerCount('ups-updated')).toBe(0);
  });

  it('continues the total after a restart (state file), with nothing for the time it was down', async () => {
    const first = meter();
    await first.start();
    for (let t = 0; t <= 5000; t += 1000) update(t);
    await first.stop();
    logLines = [];
    const second = meter();
    await second.start();
    expect(warnings()).toEqual([]);
    expect(second.reading('ups1', snapshot())?.kwh).toBeCloseTo(0.005, 12);
    // Down for ten hours: twice the gap limit of this meter (5 poll intervals of an hour).
    for (let t = 36_005_000; t <= 36_008_000; t += 1000) update(t);
    expect(second.reading('ups1', snapshot())?.kwh).toBeCloseTo(0.008, 12);
    await second.stop();
  });

  it('adds nothing while the data is not fresh', async () => {
    const m = meter();
    await m.start();
    update(0);
    update(1000);
    state = 'suspect';
    update(2000);
    update(3000);
    state = 'ok';
    update(4000);
    update(5000);
    expect(m.reading('ups1', snapshot())?.kwh).toBeCloseTo(0.002, 12);
    await m.stop();
  });

  it('starts from 0 with one warning on a corrupt file, and then replaces it', async () => {
    await writeFile(join(dir, ENERGY_FILE), '{"version":1,"ups":{"ups1":{"kwh":');
    const m = meter();
    await m.start();
    expect(warnings()).toEqual([expect.stringMatching(/energy totals start from 0: .*not JSON/)]);
    update(0);
    update(1000);
    await m.stop();
    expect((await loadEnergyFile(dir)).ok).toBe(true);
    expect(warnings()).toHaveLength(1);
  });

  it('never throws when the folder cannot be written: one warning, and the total lives on', async () => {
    await writeFile(join(dir, 'file'), 'not a folder');
    const m = new EnergyMeter({
      supervisor: { snapshot: () => snapshot() },
      bus,
      logger: pino({ level: 'info' }, { write: (line: string) => logLines.push(JSON.parse(line)) }),
      upsNames: ['ups1'],
      dataPath: join(dir, 'file', 'data'),
      pollIntervalMs: 3_600_000,
      powerFactor: 0,
      now: () => clock,
    });
    await m.start();
    update(0);
    update(1000);
    await m.stop();
    expect(warnings()).toEqual([
      expect.stringMatching(/energy totals start from 0/),
      expect.stringMatching(/cannot write the energy state file/),
    ]);
    expect(m.reading('ups1', snapshot())?.kwh).toBeCloseTo(0.001, 12);
  });

  it('gives no reading for a UPS without a power source', async () => {
    vars = { 'ups.load': '50', 'ups.power.nominal': '1500' };
    const m = meter();
    await m.start();
    update(0);
    update(1000);
    expect(m.reading('ups1', snapshot())).toBeUndefined();
    await m.stop();
  });
});
