// The short soak (issue #5): the machinery of `npm run soak` (bench/soakLib) with 3 dummy-ups UPSes plus the
// blazer_ser UPS on the Q1 simulator and 20 seeded faults of every kind, one at a time, against the agent as a
// subprocess (from src/ through tsx, so no build is needed), a real Mosquitto and an outside MQTT client.
// Asserts the targets; recovery times are printed, never asserted (they depend on the machine's load).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FAULT_KINDS } from '../../bench/soakLib/faults.js';
import { FD_MARGIN, formatReport } from '../../bench/soakLib/report.js';
import { Soak } from '../../bench/soakLib/runner.js';
import { ON_NUT } from '../fixtures/nutVersion.js';

const SEED = 20251125;
const FAULTS = 20;

let soak: Soak | undefined;
let outDir: string | undefined;
afterAll(async () => {
  await soak?.cleanup.run();
  if (outDir) await rm(outDir, { recursive: true, force: true });
}, 120_000);

describe(`soak, short version, ${ON_NUT}`, () => {
  it(`recovers ${FAULTS} seeded faults of every kind with no collateral restart, no stale retained state and no leak`, async () => {
    outDir = await mkdtemp(join(tmpdir(), 'soak-test-'));
    soak = new Soak({
      upses: 3,
      q1: true,
      faults: FAULTS,
      seed: SEED,
      kinds: FAULT_KINDS,
      capMs: 90_000,
      gapMs: [300, 1500],
      settleTimeoutMs: 60_000,
      // Test timings (as test/fixtures/agent.ts); the breaker is raised because faults come far faster than real
      // failures (it is tested in recovery.test.ts).
      agentEnv: {
        POLL_INTERVAL: '500',
        STALE_GRACE: '1000',
        BACKOFF_INITIAL: '500',
        BACKOFF_MAX: '4000',
        BREAKER_RESTARTS: '1000',
      },
      commandCooldownMs: 2000,
      agentFromSource: true,
      outDir,
      log: (line) => console.log(line),
    });
    const r = await soak.run();
    const report = formatReport(r);
    console.log(report);

    expect(r.faults).toHaveLength(FAULTS);
    expect(new Set(r.faults.map((f) => f.kind))).toEqual(new Set(FAULT_KINDS));
    const notRecovered = r.faults.filter((f) => f.recoveredMs === undefined).map((f) => `#${f.n} ${f.error}`);
    expect(notRecovered, report).toEqual([]);
    expect(r.agentExits, report).toEqual([]);
    const wrong = r.faults.flatMap((f) => f.wrongRestarts.map((w) => `after #${f.n} ${f.kind}: ${w.ups}`));
    expect(wrong, report).toEqual([]);
    expect(r.disagreements, report).toEqual([]);
    expect(r.agentStop, report).toMatchObject({ code: 0, forced: false });
    expect(r.leaked, report).toEqual([]);
    const { start, end } = r.fds;
    expect(start).toBeGreaterThan(0);
    expect((end ?? Number.POSITIVE_INFINITY) - (start ?? 0), report).toBeLessThanOrEqual(FD_MARGIN);
  }, 600_000);
});
