// The image's health check without Node: the agent's health file (HealthFile) and the shell script the
// HEALTHCHECK runs on it (docker/healthcheck.sh), each against the other. Unhealthy must still be detected: the
// agent's own verdict, a file that stopped being rewritten (a stuck agent), and no file (no agent).
import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { HealthReport } from '../../src/health/healthCheck.js';
import { HealthFile, healthFileText } from '../../src/health/healthFile.js';

const SCRIPT = join(import.meta.dirname, '../../docker/healthcheck.sh');
const healthy: HealthReport = { ok: true, upsd: 'up', ups: { ups: 'ok' }, reasons: [] };
const failed: HealthReport = {
  ok: false,
  upsd: 'up',
  ups: { ups: 'failed' },
  reasons: ['UPS ups is failed'],
};

function check(file: string, maxAge = '30') {
  return execa('/bin/sh', [SCRIPT], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HEALTH_FILE: file, HEALTH_MAX_AGE: maxAge },
    extendEnv: false,
    reject: false,
  });
}

describe('the health file and the HEALTHCHECK script', () => {
  it('the file starts with the verdict a shell reads, then the /healthz report', () => {
    expect(healthFileText(healthy)).toBe(`healthy\n${JSON.stringify(healthy)}\n`);
    expect(healthFileText(failed).split('\n')[0]).toBe('unhealthy: UPS ups is failed');
  });

  it('is written at start, follows the verdict, and goes away on stop', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'health-')), 'run', 'health');
    let report = healthy;
    const extension = new HealthFile({
      file,
      intervalMs: 50,
      health: () => report,
      logger: pino({ level: 'silent' }),
    });
    await extension.start();
    expect(readFileSync(file, 'utf8').startsWith('healthy\n')).toBe(true);
    expect((await check(file)).exitCode).toBe(0);
    report = failed;
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (readFileSync(file, 'utf8').startsWith('unhealthy')) {
          clearInterval(poll);
          resolve();
        }
      }, 10);
    });
    await extension.stop();
    expect(existsSync(file)).toBe(false);
  });

  it('healthy: exit 0 with the verdict; unhealthy when the agent says so, the file is old, or missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'health-'));
    const file = join(dir, 'health');
    writeFileSync(file, healthFileText(healthy));
    const ok = await check(file);
    expect([ok.exitCode, ok.stdout]).toEqual([0, expect.stringMatching(/^healthy \(written \d+ s ago\)$/)]);

    writeFileSync(file, healthFileText(failed));
    const bad = await check(file);
    expect([bad.exitCode, bad.stdout]).toEqual([1, expect.stringMatching(/^unhealthy: UPS ups is failed/)]);

    writeFileSync(file, healthFileText(healthy));
    const old = Date.now() / 1000 - 60;
    utimesSync(file, old, old);
    const stuck = await check(file);
    expect([stuck.exitCode, stuck.stdout]).toEqual([
      1,
      expect.stringMatching(/last written \d+ s ago .*stuck/),
    ]);
    expect((await check(file, '120')).exitCode).toBe(0);

    const gone = await check(join(dir, 'nothing'));
    expect([gone.exitCode, gone.stdout]).toEqual([1, expect.stringMatching(/does not exist/)]);
  });
});
