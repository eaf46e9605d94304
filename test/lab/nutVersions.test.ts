// The NUT-facing tests on the NUT versions users run beyond the host's: Debian trixie's 2.8.1 (also Debian 13 and
// Ubuntu 24.04) and sid's 2.8.5 (what the Home Assistant add-on builds). Each runs in a container made from that
// release's own binary packages (NUT, Mosquitto, socat): the same test files and fixtures, a different NUT.
// The host's own run covers its NUT (2.8.0 on Debian 12).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectDockerEngine, type DockerEngine } from '../fixtures/docker/engine.js';
import { ensureReleaseImage, NUT_RELEASES, runInRelease } from '../fixtures/docker/nutReleases.js';
import { NUT_FACING_FILES } from './nutFacing.js';

const root = join(import.meta.dirname, '../..');
const lab = inject('dockerLab');

interface JsonReport {
  numFailedTests: number;
  numPendingTests: number;
  testResults: {
    name: string;
    assertionResults: { fullName: string; status: string; failureMessages: string[] }[];
  }[];
}

for (const release of NUT_RELEASES) {
  describe.skipIf(!lab.host)(`NUT ${release.nut} (Debian ${release.suite}, in a container)`, () => {
    let engine: DockerEngine;
    let results: string;
    let report: JsonReport;
    let exitCode: number | undefined;
    const name = `nut-mqtt-lab-${release.suite}-${process.pid}`;
    const log = (line: string) => process.stderr.write(`[NUT ${release.nut}] ${line}\n`);

    beforeAll(async () => {
      engine = await connectDockerEngine(lab.host as string);
      const image = await ensureReleaseImage(engine, release, log);
      results = await mkdtemp(join(tmpdir(), 'nm-lab-results-'));
      const started = Date.now();
      const argv = ['node', 'node_modules/vitest/vitest.mjs', 'run', '--reporter=default', '--reporter=json'];
      const run = runInRelease(
        engine,
        image,
        [...argv, `--outputFile.json=${join(results, 'report.json')}`, ...NUT_FACING_FILES],
        { name, root, mounts: [results], env: { CI: 'true' } },
      );
      // Pass the inner run's lines on as they come, so a long run shows its progress.
      run.all?.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) log(line);
      });
      exitCode = (await run).exitCode;
      log(`inner run exit ${exitCode} after ${((Date.now() - started) / 1000).toFixed(0)} s`);
      report = JSON.parse(await readFile(join(results, 'report.json'), 'utf8')) as JsonReport;
    });

    afterAll(async () => {
      if (engine) await engine.docker(['rm', '--force', name], { reject: false });
      if (results) await rm(results, { recursive: true, force: true });
    });

    it.each(NUT_FACING_FILES)('%s passes, every test of it run', (file) => {
      const result = report.testResults.find((r) => r.name === join(root, file));
      expect(result, `${file} missing from the inner report`).toBeDefined();
      const failures = result?.assertionResults.filter((a) => a.status !== 'passed') ?? [];
      expect(
        failures.map((f) => `${f.fullName}: ${f.status} ${f.failureMessages.join('\n').slice(0, 2000)}`),
      ).toEqual([]);
      expect(result?.assertionResults.length).toBeGreaterThan(0);
      // The titles name the NUT the tests ran against: proof it was this release's, not the host's.
      const names = result?.assertionResults.map((a) => a.fullName) ?? [];
      expect(names.some((n) => n.includes(`NUT ${release.nut}`))).toBe(true);
      expect(names.filter((n) => /NUT \d+\.\d+\.\d+/.test(n) && !n.includes(`NUT ${release.nut}`))).toEqual(
        [],
      );
    });

    it('ran green as a whole (exit code 0, nothing skipped)', () => {
      expect({ exitCode, failed: report.numFailedTests, skipped: report.numPendingTests }).toEqual({
        exitCode: 0,
        failed: 0,
        skipped: 0,
      });
    });
  });
}
