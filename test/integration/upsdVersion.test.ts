// readUpsdVersion against the real upsd (whichever NUT the tests run on) and against binaries that are not one.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readUpsdVersion } from '../../src/nut/upsdVersion.js';
import { UPSD_BIN } from '../fixtures/nutLab.js';
import { NUT_VERSION, ON_NUT } from '../fixtures/nutVersion.js';

const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

describe(`readUpsdVersion, ${ON_NUT}`, () => {
  let dir: string;
  const script = async (name: string, body: string): Promise<string> => {
    const file = join(dir, name);
    await writeFile(file, `#!/bin/sh\n${body}\n`);
    await chmod(file, 0o755);
    return file;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'upsdv-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the version of the real upsd', async () => {
    const result = await readUpsdVersion(UPSD_BIN, ENV);
    expect(result).toMatchObject({ ok: true });
    if (!result.ok) return;
    expect(NUT_VERSION.startsWith(result.version.toString())).toBe(true);
    expect(result.output).toMatch(/^Network UPS Tools upsd /);
  });

  it('a binary that prints no version: not ok, with its output in the reason', async () => {
    const file = await script(
      'upsd-garbage',
      'echo "upsd disabled, please adjust the configuration"; exit 0',
    );
    const result = await readUpsdVersion(file, ENV);
    expect(result).toEqual({
      ok: false,
      reason: expect.stringContaining('upsd disabled, please adjust the configuration'),
    });
  });

  it('a binary that does not exist, or never ends: not ok, never throws', async () => {
    const missing = await readUpsdVersion(join(dir, 'no-such-upsd'), ENV);
    expect(missing.ok).toBe(false);
    const hanging = await readUpsdVersion(await script('upsd-hangs', 'exec sleep 30'), ENV, 300);
    expect(hanging).toEqual({ ok: false, reason: expect.stringContaining('timed out after 300 ms') });
  });
});
