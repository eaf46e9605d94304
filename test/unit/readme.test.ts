import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configTable, withConfigTable } from '../../src/config/docs.js';

const readme = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');

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

  it('names the two commands a new user runs', () => {
    expect(readme).toContain('npm run demo');
    expect(readme).toContain('npm test');
  });
});
