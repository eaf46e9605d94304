// The Home Assistant add-on's files against Home Assistant's add-on configuration rules (test/fixtures/
// haAddonSchema.ts), and against the agent: the options it ships are options the agent accepts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { parseAddonOptions } from '../../src/addon/options.js';
import {
  ARCHITECTURES,
  BOOT,
  isSchemaElement,
  MAP_FOLDERS,
  optionsProblems,
  REQUIRED_KEYS,
  type Schema,
  STARTUP,
  schemaProblems,
} from '../fixtures/haAddonSchema.js';

const root = join(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');
const config = YAML.parse(read('ha-addon/config.yaml')) as Record<string, unknown>;
const translations = YAML.parse(read('ha-addon/translations/en.yaml')) as {
  configuration: Record<string, { name: string; description: string }>;
  network: Record<string, string>;
};
const pkg = JSON.parse(read('package.json')) as { version: string };

describe('the fixture’s schema rules', () => {
  it('accept the documented types and refuse others', () => {
    for (const ok of ['str', 'str?', 'str(3,)', 'bool', 'int(1,10)', 'float(0,1)?', 'port', 'email', 'url'])
      expect(isSchemaElement(ok), ok).toBe(true);
    for (const ok of ['password?', 'match(^\\w+$)', 'list(a|b|c)', 'device(subsystem=usb)'])
      expect(isSchemaElement(ok), ok).toBe(true);
    for (const bad of ['string', 'boolean', 'int(a,b)', 'list()', 'str??', 'Match(x)'])
      expect(isSchemaElement(bad), bad).toBe(false);
    expect(optionsProblems({ a: 'int(1,5)', b: 'str?' }, { a: 7, c: 1 })).toEqual([
      'options.c: not in the schema',
      'options.a: not an int in range',
    ]);
    expect(optionsProblems({ a: ['str'] }, {})).toEqual(['options.a: missing (not optional)']);
  });
});

describe('ha-addon/config.yaml', () => {
  it('has every required key, the version of package.json (the image tag), a valid slug', () => {
    for (const key of REQUIRED_KEYS) expect(config[key], key).toBeTruthy();
    expect(config.version).toBe(pkg.version);
    expect(config.slug).toMatch(/^[a-z0-9_]+$/);
    expect(typeof config.description).toBe('string');
  });

  it('runs on aarch64 and amd64, by Home Assistant’s architecture names', () => {
    expect(config.arch).toEqual(['aarch64', 'amd64']);
    for (const arch of config.arch as string[]) expect(ARCHITECTURES).toContain(arch);
  });

  it('uses a prebuilt image without a tag (the Supervisor pulls <image>:<version>)', () => {
    expect(config.image).toMatch(/^[a-z0-9.-]+(\/[a-z0-9._-]+)+$/);
    expect(String(config.image).split('/').pop()).not.toContain(':');
  });

  it('starts early, at boot, with the image’s own init, USB, port 3493 and the MQTT service it needs', () => {
    expect(STARTUP).toContain(config.startup);
    expect(BOOT).toContain(config.boot);
    expect(config.init).toBe(false);
    expect(config.usb).toBe(true);
    expect(config.ports).toEqual({ '3493/tcp': 3493 });
    for (const key of Object.keys(config.ports_description as object))
      expect(config.ports).toHaveProperty(key);
    expect(config.services).toEqual(['mqtt:need']);
    for (const entry of config.services as string[])
      expect(entry).toMatch(/^(mqtt|mysql):(provide|want|need)$/);
    for (const entry of config.map as string[]) {
      const [folder, mode] = entry.split(':');
      expect(MAP_FOLDERS).toContain(folder);
      expect([undefined, 'rw', 'ro']).toContain(mode);
    }
  });

  it('has a schema of valid types, and options that satisfy it', () => {
    const schema = config.schema as Schema;
    expect(schemaProblems(schema)).toEqual([]);
    expect(optionsProblems(schema, config.options)).toEqual([]);
  });

  it('ships options the agent itself accepts', () => {
    const options = parseAddonOptions(config.options);
    expect(options.upses).toEqual([{ name: 'ups', driver: 'usbhid-ups', port: 'auto', config: [] }]);
    expect(options).toMatchObject({
      nut_files: false,
      instcmd_allow: [],
      base_topic: 'nut',
      log_level: 'info',
    });
  });

  it('maps each option of the schema onto the agent: the agent knows every one, and knows no other', () => {
    const schemaKeys = Object.keys(config.schema as object).sort();
    const full = {
      upses: [{ name: 'u', driver: 'usbhid-ups', port: 'auto', config: ['pollinterval = 15'] }],
      nut_files: false,
      instcmd_allow: ['beeper.disable'],
      nut_username: 'monuser',
      nut_password: 'secret',
      base_topic: 'nut',
      device_name: 'Rack',
      power_factor: 0.6,
      log_level: 'debug',
    };
    expect(Object.keys(full).sort()).toEqual(schemaKeys);
    expect(optionsProblems(config.schema as Schema, full)).toEqual([]);
    expect(() => parseAddonOptions(full)).not.toThrow();
    expect(() => parseAddonOptions({ ...full, extra: 1 })).toThrow(/extra: unknown option/);
  });

  it('has an English name and description for every option, and for port 3493', () => {
    expect(Object.keys(translations.configuration).sort()).toEqual(
      Object.keys(config.schema as object).sort(),
    );
    for (const [key, t] of Object.entries(translations.configuration)) {
      expect(t.name, key).toBeTruthy();
      expect(t.description, key).toBeTruthy();
    }
    expect(Object.keys(translations.network)).toEqual(Object.keys(config.ports as object));
  });
});

describe('repository.yaml', () => {
  it('names the repository, its URL and maintainer', () => {
    const repo = YAML.parse(read('repository.yaml')) as Record<string, string>;
    expect(repo.name).toBeTruthy();
    expect(repo.url).toMatch(/^https:\/\//);
    expect(repo.maintainer).toBeTruthy();
    expect(repo.url).toBe(config.url);
  });
});
