// The NUT-facing tests on the NUT versions users run beyond the host's: Debian trixie's 2.8.1 (also Debian 13 and
// Ubuntu 24.04) and sid's 2.8.5 (what the Home Assistant add-on builds). Each runs in a container made from that
// release's own binary packages (NUT, Mosquitto, socat), with this repository and the host's Node mounted in:
// the same test files, the same fixtures, a different NUT. The host's own run covers its NUT (2.8.0 on Debian 12).
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectDockerEngine, DOCKER_CLI, type DockerEngine } from '../fixtures/docker/engine.js';
import { type DebianSuite, ensureRootfsImage } from '../fixtures/docker/images.js';
import { NUT_FACING_FILES } from './nutFacing.js';

const root = join(import.meta.dirname, '../..');
const lab = inject('dockerLab');

interface Release {
  suite: DebianSuite;
  /** The NUT version that suite ships (checked: a new upload there must be noticed, not silently tested). */
  nut: string;
  driverPath: string;
  upsdPath: string;
}

const RELEASES: Release[] = [
  { suite: 'trixie', nut: '2.8.1', driverPath: '/lib/nut', upsdPath: '/lib/nut/upsd' },
  // sid moved the drivers to /usr/libexec/nut and made /usr/sbin/upsd the real binary.
  { suite: 'sid', nut: '2.8.5', driverPath: '/usr/libexec/nut', upsdPath: '/usr/sbin/upsd' },
];

/** What the tests need from the distribution: NUT, a broker and its tools, socat for the serial simulator. */
const PACKAGES = ['nut-server', 'nut-client', 'mosquitto', 'mosquitto-clients', 'socat', 'openssl', 'procps'];

function labImage(suite: DebianSuite): string {
  const recipe = createHash('sha256').update(JSON.stringify({ suite, PACKAGES })).digest('hex').slice(0, 10);
  return `nut-mqtt-lab:${suite}-${recipe}`;
}

interface JsonReport {
  numFailedTests: number;
  numPassedTests: number;
  numPendingTests: number;
  testResults: {
    name: string;
    status: string;
    message?: string;
    assertionResults: { fullName: string; status: string; failureMessages: string[] }[];
  }[];
}

for (const release of RELEASES) {
  describe.skipIf(!lab.host)(`NUT ${release.nut} (Debian ${release.suite}, in a container)`, () => {
    let engine: DockerEngine;
    let results: string;
    let report: JsonReport;
    let exitCode: number | undefined;
    const name = `nut-mqtt-lab-${release.suite}-${process.pid}`;
    const log = (line: string) => process.stderr.write(`[NUT ${release.nut}] ${line}\n`);

    beforeAll(async () => {
      engine = await connectDockerEngine(lab.host as string);
      const image = labImage(release.suite);
      await ensureRootfsImage(engine, image, { suite: release.suite, packages: PACKAGES }, log);
      const version = await engine.docker([
        'run',
        '--rm',
        '--network',
        'host',
        image,
        release.upsdPath,
        '-V',
      ]);
      expect(String(version.stdout)).toContain(`upsd ${release.nut}`);

      results = await mkdtemp(join(tmpdir(), 'nm-lab-results-'));
      const started = Date.now();
      const run = execa(
        DOCKER_CLI,
        [
          'run',
          '--rm',
          '--name',
          name,
          '--network',
          'host',
          '--volume',
          `${root}:${root}`,
          '--volume',
          `${results}:/lab-results`,
          // The host's Node runs the tests inside too: same runtime, same node_modules, another NUT.
          '--volume',
          `${process.execPath}:/usr/local/bin/node:ro`,
          '--workdir',
          root,
          '--env',
          `NUT_DRIVER_PATH=${release.driverPath}`,
          '--env',
          `NUT_UPSD_PATH=${release.upsdPath}`,
          '--env',
          'CI=true',
          image,
          'node',
          'node_modules/vitest/vitest.mjs',
          'run',
          '--reporter=default',
          '--reporter=json',
          '--outputFile.json=/lab-results/report.json',
          ...NUT_FACING_FILES,
        ],
        { reject: false, all: true, env: { DOCKER_HOST: engine.host } },
      );
      // Pass the inner run's lines on as they come, so a long run shows its progress.
      run.all?.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) log(line);
      });
      const done = await run;
      exitCode = done.exitCode;
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
      expect(result?.assertionResults.every((a) => a.fullName.includes(`NUT ${release.nut}`))).toBe(true);
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
