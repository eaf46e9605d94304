// The short soak (issue #5): `npm run soak` (bench/soak.ts, run as a command) with 3 dummy-ups UPSes plus the
// blazer_ser UPS on the Q1 simulator and 20 seeded faults of every kind, one at a time, against the agent as a
// subprocess (from src/ through tsx, so no build is needed), a real Mosquitto and an outside MQTT client.
// Asserts the targets from the soak's result.json; recovery times are printed, never asserted (they depend on the
// machine's load).
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { ON_NUT } from '../fixtures/nutVersion.js';

const SEED = 20251125;
const FAULTS = 20;
const EVERY_KIND = ['hang', 'crash', 'stale', 'upsd-kill', 'broker-restart', 'restart-cmd'];
const SOAK = join(import.meta.dirname, '../../bench/soak.ts');

/** The part of bench/soak.ts's result.json this test reads. */
interface SoakResult {
  faults: Array<{
    n: number;
    kind: string;
    recoveredMs?: number;
    error?: string;
    wrongRestarts: { ups: string }[];
  }>;
  agentExits: unknown[];
  disagreements: string[];
  agentStop?: { code?: number; forced: boolean };
  leaked: unknown[];
  fds: { start?: number; end?: number };
  targets: Array<{ id: string; value: string; required: string; met?: boolean }>;
}

let soak: ResultPromise | undefined;
let outDir: string | undefined;
afterAll(async () => {
  // On a timeout: SIGTERM makes the soak stop everything it started (bounded), as Ctrl-C does.
  soak?.kill('SIGTERM');
  await soak;
  if (outDir) await rm(outDir, { recursive: true, force: true });
}, 120_000);

describe(`soak, short version, ${ON_NUT}`, () => {
  it(`recovers ${FAULTS} seeded faults of every kind with no collateral restart, no stale retained state and no leak`, async () => {
    outDir = await mkdtemp(join(tmpdir(), 'soak-test-'));
    // Test timings (as test/fixtures/agent.ts: --fast) and a 2 s restart-command cooldown; the soak raises the
    // breaker because faults come far faster than real failures (it is tested in recovery.test.ts).
    const args = ['--upses', '3', '--faults', String(FAULTS), '--seed', String(SEED), '--cap', '90'];
    args.push(
      '--gap',
      '0.3-1.5',
      '--settle',
      '60',
      '--cooldown',
      '2',
      '--fast',
      '--agent-src',
      '--out',
      outDir,
    );
    soak = execa(process.execPath, ['--import', 'tsx', SOAK, ...args], {
      reject: false,
      stdin: 'ignore',
      all: true,
    });
    createInterface({ input: soak.all as NodeJS.ReadableStream }).on('line', (line) => console.log(line));
    const run = await soak;
    expect(run.exitCode, 'the soak itself failed (its output is above)').toBe(0);

    const report = readFileSync(join(outDir, 'report.txt'), 'utf8');
    const r = JSON.parse(readFileSync(join(outDir, 'result.json'), 'utf8')) as SoakResult;
    expect(r.faults).toHaveLength(FAULTS);
    expect(new Set(r.faults.map((f) => f.kind))).toEqual(new Set(EVERY_KIND));
    const notRecovered = r.faults.filter((f) => f.recoveredMs === undefined).map((f) => `#${f.n} ${f.error}`);
    expect(notRecovered, report).toEqual([]);
    expect(r.agentExits, report).toEqual([]);
    const wrong = r.faults.flatMap((f) => f.wrongRestarts.map((w) => `after #${f.n} ${f.kind}: ${w.ups}`));
    expect(wrong, report).toEqual([]);
    expect(r.disagreements, report).toEqual([]);
    expect(r.agentStop, report).toMatchObject({ code: 0, forced: false });
    expect(r.leaked, report).toEqual([]);
    expect(r.fds.start).toBeGreaterThan(0);
    // end ≤ start + the soak's margin (FD_MARGIN in bench/soakLib/report.ts)
    expect(
      r.targets.find((t) => t.id === 'fds'),
      report,
    ).toMatchObject({ met: true });
  }, 600_000);
});
