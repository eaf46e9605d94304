// The add-on's options onto NUT's files: what reaches ups.conf and upsd.users is checked, canonical, and parses.
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addonNutFiles, readUserNutFiles, writeNutFiles } from '../../src/addon/nutFiles.js';
import { AddonOptionsError, parseAddonOptions, upsConfLine } from '../../src/addon/options.js';
import { parseUpsConf, parseUpsdConf } from '../../src/nut/confParser.js';

const base = { upses: [{ name: 'ups', driver: 'usbhid-ups', port: 'auto' }] };
const problems = (raw: unknown): string[] => {
  try {
    parseAddonOptions(raw);
    return [];
  } catch (error) {
    if (error instanceof AddonOptionsError) return error.problems;
    throw error;
  }
};
const inputs = { listenHost: '0.0.0.0', listenPort: 3493, password: 'pw' };
const file = (files: { name: string; content: string }[], name: string) =>
  files.find((f) => f.name === name)?.content ?? '';

describe('parseAddonOptions', () => {
  it('fills the defaults of options the Supervisor leaves out', () => {
    expect(parseAddonOptions(base)).toEqual({
      upses: [{ name: 'ups', driver: 'usbhid-ups', port: 'auto', config: [] }],
      nut_files: false,
      instcmd_allow: [],
      nut_username: 'monuser',
      nut_password: '',
      base_topic: 'nut',
      device_name: '',
      power_factor: 0,
      log_level: 'info',
    });
  });

  it('names every bad option, as the configuration page shows it', () => {
    expect(
      problems({
        upses: [
          { name: 'a b', driver: 'usbhid ups', port: 'auto"\n[evil]' },
          {
            name: 'ok',
            driver: 'dummy-ups',
            port: 'x',
            vendorid: '07640',
            config: ['[other]', 'driver = x'],
          },
          { name: 'OK', driver: 'dummy-ups', port: 'y' },
        ],
        instcmd_allow: ['beeper.disable', 'load.off\nINSTCMD ups load.off'],
        nut_username: 'no spaces',
        nut_password: 'has"quote',
        base_topic: 'a/b',
        power_factor: 2,
        log_level: 'loud',
      }),
    ).toEqual([
      'upses[0].name: must be a UPS name of letters, digits, _, . and -',
      'upses[0].driver: must be a NUT driver name like usbhid-ups',
      'upses[0].port: must be one line without quotes or backslashes',
      'upses[1].vendorid: must be 4 hex digits',
      'upses[1].config[0]: "[other]" is not a ups.conf line like "pollinterval = 15"',
      'upses[1].config[1]: "driver" has its own field',
      'upses: the name "ok" is used twice',
      'instcmd_allow: "load.off\\nINSTCMD ups load.off" is not an instant command name',
      'nut_username: must be a user name (letters, digits, _ and -)',
      'nut_password: must not contain quotes, backslashes or line breaks (it goes into upsd.users)',
      'base_topic: must be one topic level of letters, digits, _ and -',
      'power_factor: must be a number from 0 to 1 (0: unset)',
      'log_level: must be one of fatal, error, warn, info, debug, trace',
    ]);
  });

  it('needs a UPS unless the user brings NUT files', () => {
    expect(problems({ upses: [] })).toEqual([
      'upses: add at least one UPS (name, driver, port), or turn on nut_files to use your own ups.conf',
    ]);
    expect(problems({ upses: [], nut_files: true })).toEqual([]);
    expect(problems(null)).toEqual(['the options must be an object']);
  });

  it('turns config lines into canonical ups.conf lines, refusing what could leave the section', () => {
    expect(upsConfLine('pollinterval = 15')).toEqual({ line: '  pollinterval = "15"' });
    expect(upsConfLine('  pollonly ')).toEqual({ line: '  pollonly' });
    expect(upsConfLine('override.battery.charge.low="30"')).toEqual({
      line: '  override.battery.charge.low = "30"',
    });
    for (const bad of ['a = b c', 'a = "b', 'a = b"', 'a\nb', '# comment', '[ups2]', 'a = "x\\"'])
      expect(upsConfLine(bad), bad).toHaveProperty('problem');
  });
});

describe('addonNutFiles', () => {
  it('writes one section per UPS, upsd listening for other hosts and the monitor user, all parseable', () => {
    const options = parseAddonOptions({
      upses: [
        {
          name: 'rack',
          driver: 'usbhid-ups',
          port: 'auto',
          vendorid: '0764',
          desc: 'Rack',
          config: ['pollonly'],
        },
        { name: 'desk', driver: 'nutdrv_qx', port: '/dev/ttyUSB0', serial: 'A1' },
      ],
      instcmd_allow: ['beeper.disable'],
      nut_username: 'watcher',
    });
    const files = addonNutFiles(options, inputs);
    expect(files.map((f) => f.name)).toEqual(['nut.conf', 'ups.conf', 'upsd.conf', 'upsd.users']);
    const ups = parseUpsConf(file(files, 'ups.conf'));
    expect(ups.upses.map((u) => [u.name, u.driver, u.port, u.desc, u.options])).toEqual([
      ['rack', 'usbhid-ups', 'auto', 'Rack', { vendorid: '0764', pollonly: true }],
      ['desk', 'nutdrv_qx', '/dev/ttyUSB0', undefined, { serial: 'A1' }],
    ]);
    expect(parseUpsdConf(file(files, 'upsd.conf')).listen).toEqual([{ host: '0.0.0.0', port: 3493 }]);
    expect(file(files, 'upsd.users')).toContain(
      '[watcher]\n  password = "pw"\n  upsmon primary\n  instcmds = beeper.disable',
    );
    expect(files.find((f) => f.name === 'upsd.users')?.mode).toBe(0o600);
  });

  it('with nut_files, takes the user’s ups.conf (and upsd.conf, upsd.users where given)', () => {
    const options = parseAddonOptions({ upses: [], nut_files: true });
    const own = '[mine]\n  driver = usbhid-ups\n  port = auto\n';
    const files = addonNutFiles(options, { ...inputs, userFiles: { 'ups.conf': own } });
    expect(file(files, 'ups.conf')).toBe(own);
    expect(file(files, 'upsd.users')).toContain('[monuser]');
    const users = '[admin]\n  password = x\n';
    const all = addonNutFiles(options, { ...inputs, userFiles: { 'ups.conf': own, 'upsd.users': users } });
    expect(file(all, 'upsd.users')).toBe(users);
    expect(() => addonNutFiles(options, inputs)).toThrow(/no ups.conf in the add-on’s config folder/);
    expect(() =>
      addonNutFiles(options, { ...inputs, userFiles: { 'ups.conf': '[x]\n port = a\n' } }),
    ).toThrow(/your ups.conf.*has no driver/);
  });

  it('reads the user’s files and writes NUT’s atomically, upsd.users private', () => {
    const dir = mkdtempSync(join(tmpdir(), 'addon-files-'));
    writeFileSync(join(dir, 'ups.conf'), '[a]\n driver = dummy-ups\n port = a.dev\n');
    expect(readUserNutFiles(dir)).toEqual({ 'ups.conf': '[a]\n driver = dummy-ups\n port = a.dev\n' });
    const out = join(dir, 'nut');
    const files = addonNutFiles(parseAddonOptions(base), inputs);
    expect(writeNutFiles(out, files)).toEqual(files.map((f) => join(out, f.name)));
    expect(readdirSync(out).sort()).toEqual(['nut.conf', 'ups.conf', 'upsd.conf', 'upsd.users']);
    expect(statSync(join(out, 'upsd.users')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(out, 'ups.conf'), 'utf8')).toBe(file(files, 'ups.conf'));
  });
});
