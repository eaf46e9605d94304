// `--nut <version>`: run a benchmark beside another NUT. The host's own NUT runs here; 2.8.1 (Debian trixie)
// and 2.8.5 (Debian sid) run in the lab's container of that release (test/fixtures/docker), with the repository,
// its build and the host's Node mounted in, so the same code is measured against a different NUT.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDockerEngine } from '../../test/fixtures/docker/engine.js';
import {
  ensureReleaseImage,
  NUT_RELEASES,
  nutRelease,
  runInRelease,
} from '../../test/fixtures/docker/nutReleases.js';
import { NUT_VERSION } from '../../test/fixtures/nutVersion.js';
import { stringFlag } from './run.js';

const IN_LAB = 'NUT_MQTT_BENCH_IN_LAB';

/**
 * When `--nut` names a NUT other than the host's, runs `script` with the same arguments in that release's
 * container and resolves with its exit code; resolves undefined when the benchmark should run right here.
 */
export async function runBesideRequestedNut(script: string): Promise<number | undefined> {
  const wanted = stringFlag('nut', '');
  if (wanted === '' || wanted === NUT_VERSION || process.env[IN_LAB]) return undefined;
  const release = nutRelease(wanted);
  if (!release) {
    const known = [`${NUT_VERSION} (this host)`, ...NUT_RELEASES.map((r) => `${r.nut} (Debian ${r.suite})`)];
    throw new Error(`--nut ${wanted}: not available; one of ${known.join(', ')}`);
  }
  const log = (line: string) => process.stderr.write(`[lab] ${line}\n`);
  const engine = await startDockerEngine(log);
  try {
    const image = await ensureReleaseImage(engine, release, log);
    const results = join(tmpdir(), 'nut-mqtt-bench');
    mkdirSync(results, { recursive: true });
    log(`running ${script} beside NUT ${release.nut} (Debian ${release.suite})`);
    const argv = ['node', '--import', 'tsx', script, ...process.argv.slice(2)];
    const run = await runInRelease(engine, image, argv, {
      name: `nut-mqtt-bench-${process.pid}`,
      root: join(import.meta.dirname, '../..'),
      mounts: [results],
      env: { [IN_LAB]: '1' },
      stdio: 'inherit',
    });
    return run.exitCode ?? 1;
  } finally {
    await engine.stop();
  }
}
