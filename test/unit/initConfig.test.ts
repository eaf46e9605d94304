import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { parseUpsConf, parseUpsdConf } from '../../src/nut/confParser.js';
import { defaultNutFiles, writeDefaultNutConfig } from '../../src/nut/initConfig.js';

const configWith = (env: Record<string, string>) => loadConfig({ env }).config;

describe('init-config', () => {
  it('builds ups.conf, upsd.conf and upsd.users that NUT (and our parser) accept', () => {
    const files = defaultNutFiles(
      configWith({
        UPS_NAME: 'rack',
        UPS_DRIVER: 'usbhid-ups',
        UPS_VENDORID: '0764',
        UPS_PRODUCTID: '0501',
        UPS_DESC: 'Rack UPS',
        NUT_USERNAME: 'observer',
        INSTCMD_ALLOW: 'beeper.disable,test.battery.start.quick',
      }),
      's3cret',
    );
    const byName = Object.fromEntries(files.map((f) => [f.name, f]));
    const ups = parseUpsConf(byName['ups.conf']?.content ?? '');
    expect(ups.upses).toEqual([
      expect.objectContaining({
        name: 'rack',
        driver: 'usbhid-ups',
        port: 'auto',
        desc: 'Rack UPS',
        options: expect.objectContaining({ vendorid: '0764', productid: '0501' }),
      }),
    ]);
    expect(parseUpsdConf(byName['upsd.conf']?.content ?? '').listen).toEqual([
      { host: '0.0.0.0', port: 3493 },
    ]);
    expect(byName['upsd.users']?.content).toContain('[observer]');
    expect(byName['upsd.users']?.content).toContain('password = "s3cret"');
    expect(byName['upsd.users']?.content).toContain('instcmds = test.battery.start.quick');
    expect(byName['upsd.users']?.mode).toBe(0o600);
    expect(byName['nut.conf']?.content).toBe('MODE=netserver\n');
  });

  it('writes only missing files, never a built-in password, and never overwrites', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nm-init-'));
    writeFileSync(join(dir, 'ups.conf'), '# mine\n[x]\n driver = dummy-ups\n port = x.dev\n');
    const config = configWith({ NUT_CONFPATH: dir });
    const first = writeDefaultNutConfig(config);
    expect(first.kept).toEqual([join(dir, 'ups.conf')]);
    expect(first.written.sort()).toEqual(['nut.conf', 'upsd.conf', 'upsd.users'].map((f) => join(dir, f)));
    expect(first.generatedPassword).toBe(true);
    expect(readFileSync(join(dir, 'ups.conf'), 'utf8')).toContain('# mine');
    const users = readFileSync(join(dir, 'upsd.users'), 'utf8');
    const password = /password = "([^"]+)"/.exec(users)?.[1] ?? '';
    expect(password.length).toBeGreaterThanOrEqual(20);
    expect(statSync(join(dir, 'upsd.users')).mode & 0o777).toBe(0o600);

    // A second start changes nothing, and a second random password is not made up.
    const second = writeDefaultNutConfig(config);
    expect(second.written).toEqual([]);
    expect(readFileSync(join(dir, 'upsd.users'), 'utf8')).toBe(users);
  });

  it('uses NUT_PASSWORD and refuses one that would break upsd.users', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nm-init-'));
    const result = writeDefaultNutConfig(configWith({ NUT_CONFPATH: dir, NUT_PASSWORD: 'given-pw' }));
    expect(result.generatedPassword).toBe(false);
    expect(readFileSync(join(dir, 'upsd.users'), 'utf8')).toContain('password = "given-pw"');
    expect(() =>
      writeDefaultNutConfig(
        configWith({ NUT_CONFPATH: mkdtempSync(join(tmpdir(), 'nm-init-')), NUT_PASSWORD: 'a"b' }),
      ),
    ).toThrow(/must not contain quotes/);
  });
});
