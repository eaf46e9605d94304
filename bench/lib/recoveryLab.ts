// The lab one contender of the recovery bench runs on: `nDummy` dummy-ups UPSes (ups1…, hang and crash faults)
// and `nQ1` blazer_ser UPSes (q1…), each on its own Q1 simulator (the stale-while-alive fault). upsd.conf has
// no MAXAGE line: upsd's default applies. Nothing is started here; the contender starts NUT its own way.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labProcesses, sweepLab } from '../../test/fixtures/labProcs.js';
import { createNutLab, type LabUps, type NutLab } from '../../test/fixtures/nutLab.js';
import { type Q1Simulator, startQ1Simulator } from '../../test/fixtures/q1Simulator.js';
import { onCleanup } from './run.js';

export interface RecoveryLab {
  label: string;
  lab: NutLab;
  sims: Map<string, Q1Simulator>;
  dummies: string[];
  q1s: string[];
  match: { confPath: string; dirs: string[] };
  driverOf(ups: string): string;
  /** Stops the simulators, the lab's own processes and removes its folders; returns what was still running. */
  stop(): Promise<string[]>;
}

export async function createRecoveryLab(label: string, nDummy: number, nQ1: number): Promise<RecoveryLab> {
  const simRoot = await mkdtemp(join(tmpdir(), 'nq-'));
  const sims = new Map<string, Q1Simulator>();
  const match = { confPath: '', dirs: [simRoot] };
  // Registered before anything starts, so Ctrl-C during setup still cleans up.
  const unregister = onCleanup(`lab ${label}`, async () => {
    if (match.confPath) await sweepLab(match);
    for (const sim of sims.values()) await sim.stop().catch(() => undefined);
    await rm(simRoot, { recursive: true, force: true });
  });

  const dummies = Array.from({ length: nDummy }, (_, i) => `ups${i + 1}`);
  const q1s = Array.from({ length: nQ1 }, (_, i) => `q${i + 1}`);
  for (const name of q1s) {
    const dir = join(simRoot, name);
    await mkdir(dir);
    sims.set(name, await startQ1Simulator(dir));
  }
  const upses: LabUps[] = [
    ...dummies.map((name) => ({ name, desc: `${label} dummy ${name}` })),
    ...q1s.map((name) => ({
      name,
      driver: 'blazer_ser',
      port: sims.get(name)?.ttyPath ?? '',
      desc: `${label} Q1 simulator ${name}`,
    })),
  ];
  const lab = await createNutLab({ upses });
  match.confPath = lab.confPath;
  match.dirs = [simRoot, lab.dir];
  const drivers = new Map(lab.upses.map((u) => [u.name, u.driver ?? 'dummy-ups']));

  return {
    label,
    lab,
    sims,
    dummies,
    q1s,
    match,
    driverOf: (ups) => drivers.get(ups) ?? 'dummy-ups',
    async stop() {
      for (const sim of sims.values()) await sim.stop();
      await lab.stop();
      const left = labProcesses(match).map((p) => `${p.pid} ${p.argv.join(' ')}`);
      await sweepLab(match);
      await rm(simRoot, { recursive: true, force: true });
      unregister();
      return left;
    },
  };
}
