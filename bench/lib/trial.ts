// One recovery trial: wait until the contender and its UPS are quiet, inject the fault, watch upsd through the
// independent observer until fresh data comes back (or the cap), then leave the lab clean for the next trial.
//
// "Recovered" = the first fresh status (not WAIT, no ERR) after (a) the observer has seen the outage (an ERR or
// WAIT since the fault) and (b) the driver process that was running at fault time is gone. (b) keeps the cached
// status upsd serves in the first seconds of a hang, or in the few ms after a crash, from counting.
import { describeProc, findDrivers, findUpsd, type ProcInfo } from '../../test/fixtures/labProcs.js';
import { killHard, processAlive, sleep } from '../../test/fixtures/proc.js';
import type { Sample } from '../../test/fixtures/upsdObserver.js';
import { type Contender, rel } from './contender.js';

export type Fault = 'hang' | 'crash' | 'stale';

export interface TrialResult {
  contender: string;
  fault: Fault;
  n: number;
  ups: string;
  t0?: number;
  endAt?: number;
  recoveredMs?: number;
  /** Observer timeline: distinct states with the time they were first seen. */
  timeline: string;
  /** Stopped or unexpected driver processes the harness killed after the trial. */
  leftovers: string[];
  upsdPids: number[];
  evidence: string[];
  note?: string;
}

const SAMPLE_MS = 50;

/**
 * `delayMs`: a pause between "ready" and the fault. Without it a trial starts at a time set by the trial before it,
 * and so at much the same point of each driver's update cycle (dummy-ups: 1 s deaf in every 2 s) trial after
 * trial; a random pause makes the faults land at random points of the cycle, as a real fault would.
 */
export async function runTrial(
  c: Contender,
  fault: Fault,
  ups: string,
  n: number,
  capMs: number,
  delayMs = 0,
): Promise<TrialResult> {
  const result: TrialResult = {
    contender: c.name,
    fault,
    ups,
    n,
    timeline: '',
    leftovers: [],
    upsdPids: [],
    evidence: [],
  };
  const ready = await waitReady(c, ups, 60_000);
  if (typeof ready === 'string') {
    result.note = `not started: precondition not reached in 60 s (${ready})`;
    result.leftovers = await killUnexpected(c, ups);
    return result;
  }
  const sim = c.rlab.sims.get(ups);
  if (fault === 'stale' && !sim) throw new Error(`${ups} has no Q1 simulator`);
  await sleep(delayMs);
  const tracker = c.observer.track(ups, SAMPLE_MS);
  await sleep(3 * SAMPLE_MS);

  const t0 = Date.now();
  const st: { goneAt?: number; unmutedAt?: number; finished: boolean } = { finished: false };
  if (fault === 'hang') process.kill(ready.pid, 'SIGSTOP');
  else if (fault === 'crash') process.kill(ready.pid, 'SIGKILL');
  else sim?.setMuted(true);
  // The "glitch a restart fixes": the simulator answers again once the driver of fault time has exited.
  const watcher = (async () => {
    while (!st.finished && processAlive(ready.pid)) await sleep(20);
    if (st.finished) return;
    st.goneAt = Date.now();
    if (fault === 'stale') {
      sim?.setMuted(false);
      st.unmutedAt = Date.now();
    }
  })();

  let sawOutage = false;
  let scanned = 0;
  while (Date.now() < t0 + capMs && result.recoveredMs === undefined) {
    for (; scanned < tracker.samples.length; scanned++) {
      const s = tracker.samples[scanned] as Sample;
      if (s.t < t0) continue;
      if (!s.fresh) sawOutage = true;
      else if (sawOutage && st.goneAt !== undefined && s.t >= st.goneAt) {
        result.recoveredMs = s.t - t0;
        break;
      }
    }
    await sleep(20);
  }
  st.finished = true;
  await tracker.stop();
  await watcher;
  sim?.setMuted(false);
  result.t0 = t0;
  result.endAt = Date.now();
  result.timeline = timeline(tracker.samples, t0, st.goneAt, st.unmutedAt);
  if (result.recoveredMs === undefined) result.note = `not recovered within ${capMs / 1000} s`;

  // Let a recovered contender settle before judging what is left; a stuck one gets its leftovers killed first.
  if (result.recoveredMs !== undefined) await waitIdle(c, ups, 30_000);
  result.leftovers = await killUnexpected(c, ups);
  result.evidence = c.evidence(ups, t0, Date.now());
  result.upsdPids = findUpsd(c.rlab.match).map((p) => p.pid);
  return result;
}

async function waitIdle(c: Contender, ups: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!c.idle(ups) && Date.now() < deadline) await sleep(100);
}

/** Contender idle, status fresh for ≥ 1 s, exactly one driver process, the expected one, not stopped. */
async function waitReady(c: Contender, ups: string, timeoutMs: number): Promise<ProcInfo | string> {
  const deadline = Date.now() + timeoutMs;
  let why = 'nothing checked yet';
  let freshSince: number | undefined;
  while (Date.now() < deadline) {
    const s = await c.observer.read(ups);
    freshSince = s.fresh ? (freshSince ?? s.t) : undefined;
    const candidates = findDrivers(c.rlab.match, c.rlab.driverOf(ups), ups);
    const expected = c.expected(ups, candidates);
    if (!c.idle(ups)) why = 'contender still busy with this UPS';
    else if (!s.fresh) why = `status ${s.value}`;
    else if (freshSince === undefined || s.t - freshSince < 1000) why = 'fresh for less than 1 s';
    else if (candidates.length !== 1 || !expected)
      why = `driver processes: ${candidates.map(describeProc).join('; ') || 'none'}`;
    else if (expected.state === 'T') why = 'driver is stopped';
    else return expected;
    await sleep(100);
  }
  return why;
}

/** SIGKILL (+SIGCONT) every driver process of this UPS that is stopped or not the contender's current one. */
async function killUnexpected(c: Contender, ups: string): Promise<string[]> {
  const candidates = findDrivers(c.rlab.match, c.rlab.driverOf(ups), ups);
  const expected = c.expected(ups, candidates);
  const extra = candidates.filter((p) => p !== expected || p.state === 'T');
  for (const p of extra) await killHard(p.pid);
  return extra.map(describeProc);
}

/** "OL → DATA-STALE +11.20 → … " plus when the old driver went and (stale) when the simulator was unmuted. */
function timeline(samples: readonly Sample[], t0: number, goneAt?: number, unmutedAt?: number): string {
  const parts: string[] = [];
  let last: string | undefined;
  for (const s of samples) {
    if (s.value === last) continue;
    last = s.value;
    parts.push(s.t < t0 ? s.value : `${s.value} ${rel(s.t, t0)}`);
  }
  const extra = [
    goneAt !== undefined ? `old driver gone ${rel(goneAt, t0)}` : 'old driver never went',
    ...(unmutedAt !== undefined ? [`unmuted ${rel(unmutedAt, t0)}`] : []),
  ];
  return `${parts.join(' → ')}  [${extra.join(', ')}]`;
}

/**
 * `n` trials of one fault, round-robin over `upses`. With `staggerMs`, trials overlap: each starts that long
 * after the previous one (on another UPS; a UPS is never in two trials at once).
 */
export async function runSeries(
  c: Contender,
  fault: Fault,
  upses: readonly string[],
  n: number,
  capMs: number,
  onResult: (r: TrialResult) => void,
  staggerMs = 0,
  /** The pause before each trial's fault (see runTrial), by trial number. */
  delays: readonly number[] = [],
): Promise<TrialResult[]> {
  const perUps = new Map<string, Promise<unknown>>();
  const all: Promise<TrialResult>[] = [];
  for (let i = 0; i < n; i++) {
    const ups = upses[i % upses.length] as string;
    const previous = perUps.get(ups) ?? Promise.resolve();
    const trial = previous
      .then(() => runTrial(c, fault, ups, i + 1, capMs, delays[i] ?? 0))
      .then((r) => {
        onResult(r);
        return r;
      });
    perUps.set(ups, trial);
    all.push(trial);
    if (staggerMs === 0) await trial;
    else if (i < n - 1) await sleep(staggerMs);
  }
  return Promise.all(all);
}
