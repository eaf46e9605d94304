import { writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CpuSample,
  cpuShareBetween,
  type SpinConfig,
  sampleInterval,
  spinVerdict,
} from '../../src/supervisor/cpuSpin.js';
import { clockTicksPerSecond, parseProcStatTicks, readCpuSample } from '../../src/supervisor/procCpu.js';
import { SpinWatchdog } from '../../src/supervisor/spinWatchdog.js';
import { initialState, type MachineConfig, step } from '../../src/supervisor/upsStateMachine.js';

const config: SpinConfig = { cpuShare: 0.4, durationMs: 60_000, ticksPerSecond: 100 };

/** Samples every `stepMs` from t=0, each interval using the given share of a core (100 ticks per second). */
function samplesOf(shares: number[], stepMs = 5000): CpuSample[] {
  const samples: CpuSample[] = [{ at: 0, ticks: 1000 }];
  for (const share of shares) {
    const last = samples[samples.length - 1] as CpuSample;
    samples.push({ at: last.at + stepMs, ticks: last.ticks + Math.round(share * 100 * (stepMs / 1000)) });
  }
  return samples;
}

describe('spinVerdict (samples → spinning?)', () => {
  it('computes the share of a core between two samples', () => {
    expect(cpuShareBetween({ at: 0, ticks: 0 }, { at: 2000, ticks: 100 }, 100)).toBe(0.5);
    expect(cpuShareBetween({ at: 0, ticks: 0 }, { at: 0, ticks: 5 }, 100)).toBeUndefined();
    expect(cpuShareBetween({ at: 0, ticks: 9 }, { at: 1000, ticks: 5 }, 100)).toBeUndefined();
  });

  it('is spinning at ~50 % of a core for the whole duration, with the mean share and the stretch', () => {
    const verdict = spinVerdict(samplesOf(Array(12).fill(0.5)), config);
    expect(verdict).toEqual({ spinning: true, cpuShare: 0.5, durationMs: 60_000 });
  });

  it('is spinning the way a 2.8.0 dummy-ups spins: flat out, then asleep in its update, over and over', () => {
    // Measured on NUT 2.8.0 after a client disconnected, ticks per 500 ms: 35 38 0 7 48 37 0 11 45 36 0 …
    const pattern = [0.7, 0.76, 0, 0.14, 0.96, 0.74, 0, 0.22];
    const shares = Array.from({ length: 12 }, (_, i) => pattern[i % pattern.length] as number);
    const verdict = spinVerdict(samplesOf(shares, 500), { ...config, cpuShare: 0.2, durationMs: 3000 });
    expect(verdict).toMatchObject({ spinning: true, durationMs: 3000 });
    expect(verdict.spinning && verdict.cpuShare).toBeGreaterThan(0.25);
  });

  it('is not spinning before the duration has passed', () => {
    expect(spinVerdict(samplesOf(Array(11).fill(0.5)), config)).toEqual({ spinning: false });
  });

  it('leaves a busy-but-healthy driver alone: short bursts with quiet intervals between them', () => {
    // A burst at 90 % every third interval (an update loop doing USB I/O), idle otherwise: for minutes.
    const bursts = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? 0.9 : 0.02));
    const verdicts = (shares: number[]) =>
      shares.map((_, n) => spinVerdict(samplesOf(shares.slice(0, n + 1)), config).spinning);
    expect(verdicts(bursts).some(Boolean)).toBe(false);
    // Every other interval at 60 %: a mean of 31 %, below the share, at every moment.
    const every2 = Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? 0.6 : 0.02));
    expect(verdicts(every2).some(Boolean)).toBe(false);
  });

  it('is not spinning once quiet again: a long busy stretch (a start-up) followed by quiet', () => {
    // 40 s flat out, then quiet: the whole last minute averages above 40 % for a while, its newer half does not.
    const shares = [...Array(8).fill(1), ...Array(12).fill(0.01)];
    const verdicts = shares.map((_, n) => spinVerdict(samplesOf(shares.slice(0, n + 1)), config).spinning);
    expect(verdicts.some(Boolean)).toBe(false);
    // The same stretch still going on is spinning.
    expect(spinVerdict(samplesOf(Array(12).fill(1)), config)).toMatchObject({ spinning: true });
  });

  it('is not spinning at or below the share, nor with too few samples', () => {
    expect(spinVerdict(samplesOf(Array(20).fill(0.4)), config)).toEqual({ spinning: false });
    expect(spinVerdict(samplesOf(Array(20).fill(0.05)), config)).toEqual({ spinning: false });
    expect(spinVerdict([{ at: 0, ticks: 0 }], config)).toEqual({ spinning: false });
    expect(spinVerdict([], config)).toEqual({ spinning: false });
    // One interval as long as the duration has no halves to compare.
    expect(spinVerdict(samplesOf([1], 60_000), config)).toEqual({ spinning: false });
  });

  it('honours the clock tick rate', () => {
    // The same tick counts are 45 % of a core at 100 ticks/s, 36 % at 125 ticks/s (below the 40 % share).
    const samples = samplesOf(Array(12).fill(0.45));
    expect(spinVerdict(samples, { ...config, ticksPerSecond: 125 })).toEqual({ spinning: false });
    expect(spinVerdict(samples, { ...config, ticksPerSecond: 100 })).toMatchObject({ spinning: true });
  });

  it('samples several times per duration, between 250 ms and 5 s apart', () => {
    expect(sampleInterval(60_000)).toBe(5000);
    expect(sampleInterval(3000)).toBe(500);
    expect(sampleInterval(1000)).toBe(250);
  });
});

describe('/proc/<pid>/stat', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it('reads utime + stime, even when the command name has spaces and parentheses', () => {
    const fields = ['S', '1', '2', '3', '0', '-1', '4194560', '100', '0', '0', '0', '1234', '567', '0', '0'];
    expect(parseProcStatTicks(`4242 (dummy-ups) ${fields.join(' ')}`)).toBe(1801);
    expect(parseProcStatTicks(`4242 (a) b (c)) ${fields.join(' ')}`)).toBe(1801);
    expect(parseProcStatTicks('garbage')).toBeUndefined();
    expect(parseProcStatTicks('1 (x) S 1')).toBeUndefined();
  });

  it('samples this very process from the real /proc, and a gone pid as undefined', async () => {
    const sample = await readCpuSample(process.pid, () => 42);
    expect(sample?.at).toBe(42);
    expect(sample?.ticks).toBeGreaterThan(0);
    expect(await readCpuSample(2 ** 22 + 17, Date.now)).toBeUndefined();
    expect(await clockTicksPerSecond()).toBeGreaterThan(0);
  });

  it('the watchdog reports a process that spins (fake /proc), once, and stops sampling', async () => {
    const root = await mkdtemp(join(tmpdir(), 'proc-'));
    dirs.push(root);
    await mkdir(join(root, '77'));
    const hz = await clockTicksPerSecond();
    let clock = 0;
    let ticks = 0;
    const writeStat = () =>
      writeFileSync(join(root, '77', 'stat'), `77 (dummy-ups) S 1 1 1 0 -1 0 0 0 0 0 ${ticks} 0 0 0`);
    writeStat();
    // Each sample reads the stat file, then the clock: the clock moves 250 ms per sample and the process uses
    // half a core in that time, whatever the real timers do on a loaded machine.
    const now = () => {
      const at = clock;
      clock += 250;
      ticks += Math.round(hz * 0.25 * 0.5);
      writeStat();
      return at;
    };
    const reports: Array<{ cpuShare: number; durationMs: number }> = [];
    const watchdog = new SpinWatchdog({
      pid: 77,
      cpuShare: 0.2,
      durationMs: 1500,
      now,
      procRoot: root,
      onSpinning: (v) => reports.push(v),
    });
    watchdog.start();
    for (let i = 0; i < 100 && reports.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    const samplesAtReport = clock;
    await new Promise((r) => setTimeout(r, 600));
    watchdog.stop();
    expect(reports).toHaveLength(1);
    expect(reports[0]?.cpuShare).toBeCloseTo(0.5, 1);
    expect(reports[0]?.durationMs).toBeGreaterThanOrEqual(1500);
    // No sampling after the report: a restart gives the new process its own watchdog.
    expect(clock).toBe(samplesAtReport);
  });

  it('a watchdog with share 0 is off', async () => {
    const reports: unknown[] = [];
    const watchdog = new SpinWatchdog({
      pid: process.pid,
      cpuShare: 0,
      durationMs: 1000,
      onSpinning: (v) => reports.push(v),
    });
    watchdog.start();
    watchdog.stop();
    expect(reports).toEqual([]);
  });
});

describe('the state machine on a spinning driver', () => {
  const machine: MachineConfig = {
    staleGraceMs: 1000,
    driverStaleGraceMs: 250,
    startTimeoutMs: 30_000,
    backoffInitialMs: 2000,
    backoffMaxMs: 16_000,
    breakerRestarts: 5,
    breakerStormRestarts: 30,
    breakerWindowMs: 60_000,
    failedRetryMs: 120_000,
  };

  it('restarts it like any other fault, with reason spinning', () => {
    const ok = step(initialState(0), { type: 'fresh' }, 1000, machine).state;
    const { state, actions } = step(ok, { type: 'spinning' }, 70_000, machine);
    expect(state).toMatchObject({ name: 'recovering', reason: 'spinning', attempt: 1 });
    expect(actions).toEqual([{ type: 'recover', reason: 'spinning', attempt: 1 }]);
  });
});
