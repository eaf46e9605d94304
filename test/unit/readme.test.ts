import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configTable, withConfigTable } from '../../src/config/docs.js';
import { RECOVERY_REASONS, SUPERVISION_STATES } from '../../src/supervisor/types.js';
import { USB_DRIVERS } from '../../src/usb/usbMatch.js';

const readme = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
/** The README with every run of blanks and line breaks as one space, for phrases that wrap. */
const flat = readme.replace(/\s+/g, ' ');
const codeList = (names: Iterable<string>) => [...names].map((name) => `\`${name}\``).join(', ');

describe('README', () => {
  it('has the configuration table of the current schema (run `npm run docs:config` after changing it)', () => {
    expect(withConfigTable(readme)).toBe(readme);
  });

  it('documents every environment name of the public interface', () => {
    for (const name of [
      'NUT_CONFPATH',
      'NUT_STATEPATH',
      'NUT_ALTPIDPATH',
      'NUT_DRIVER_PATH',
      'NUT_UPSD_PATH',
      'NUT_USER',
      'LOG_LEVEL',
      'POLL_INTERVAL',
    ]) {
      expect(configTable()).toContain(`\`${name}\``);
    }
  });

  it('lists exactly the supervisor states and restart reasons the state and the enum sensors carry', () => {
    expect(flat).toContain(`Supervisor states: ${codeList(SUPERVISION_STATES)}.`);
    expect(flat).toContain(`Restart reasons: ${codeList(RECOVERY_REASONS)}.`);
    expect(RECOVERY_REASONS).toHaveLength(8);
  });

  it('names exactly the drivers the USB reset rung applies to', () => {
    expect(flat).toContain(`**USB reset rung** (${[...USB_DRIVERS].join(', ')}):`);
    expect(USB_DRIVERS.size).toBe(8);
  });

  it('names the two commands a new user runs', () => {
    expect(readme).toContain('npm run demo');
    expect(readme).toContain('npm test');
  });
});
