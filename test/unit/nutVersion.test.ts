import { describe, expect, it } from 'vitest';
import { driverSocketCapabilities, nutCapabilities } from '../../src/nut/nutCapabilities.js';
import { NutVersion } from '../../src/nut/nutVersion.js';

describe('NutVersion.parse', () => {
  it.each([
    ['Network UPS Tools upsd 2.8.0', '2.8.0'], // upsd -V, Debian 12
    ['Network UPS Tools upsd 2.8.0 - http://www.networkupstools.org/', '2.8.0'], // VER
    ['Network UPS Tools upsd 2.8.5\n', '2.8.5'],
    ['Network UPS Tools upsd 2.8.1-5+deb13u1', '2.8.1'], // a packager's suffix
    ['Network UPS Tools upsd 2.8.3.2451-2451-g6e4d2f0a7 (development iteration after 2.8.3)', '2.8.3.2451'],
    ['Network UPS Tools - Generic HID UPS driver 0.52 (2.8.5)\nNetwork UPS Tools upsd 2.8.5', '2.8.5'],
    ['Network UPS Tools 2.7.4', '2.7.4'],
    ['2.8.1-5+deb13u1', '2.8.1'], // a bare package version
    ['v2.8.2', '2.8.2'],
    ['2.8', '2.8'],
  ])('finds the version in %j', (text, expected) => {
    expect(NutVersion.parse(text)?.toString()).toBe(expected);
  });

  it.each([
    '',
    'upsd: command not found',
    'Network UPS Tools upsd', // no number at all
    'NETVER 1.3 is not the release', // a number, but not where a version is
    '\u0000\u00ff garbage',
  ])('finds no version in %j', (text) => {
    expect(NutVersion.parse(text)).toBeUndefined();
  });

  it('of() throws on a string that is not a version', () => {
    expect(() => NutVersion.of('latest')).toThrow(/not a NUT version/);
  });
});

describe('NutVersion.compare / atLeast', () => {
  it.each([
    ['2.8.0', '2.8.0', 0],
    ['2.8.0', '2.8.1', -1],
    ['2.8.10', '2.8.9', 1], // numeric, not lexical
    ['2.8', '2.8.0', 0], // a missing part is 0
    ['2.8.3.2451', '2.8.3', 1], // a development build after 2.8.3
    ['3.0', '2.8.5', 1],
  ])('%s vs %s → %i', (a, b, expected) => {
    expect(NutVersion.of(a).compare(b)).toBe(expected);
    expect(NutVersion.of(b).compare(NutVersion.of(a))).toBe(expected === 0 ? 0 : -expected);
  });

  it('atLeast', () => {
    expect(NutVersion.of('2.8.3').atLeast('2.8.3')).toBe(true);
    expect(NutVersion.of('2.8.2').atLeast('2.8.3')).toBe(false);
    expect(NutVersion.of('2.8.5').atLeast(NutVersion.of('2.8.3'))).toBe(true);
  });
});

describe('nutCapabilities', () => {
  it.each([
    ['2.7.4', { logout: false, getpid: false }, true],
    ['2.8.0', { logout: false, getpid: false }, true],
    ['2.8.1', { logout: false, getpid: false }, false],
    ['2.8.2', { logout: false, getpid: false }, false],
    ['2.8.3', { logout: true, getpid: true }, false],
    ['2.8.5', { logout: true, getpid: true }, false],
  ])('NUT %s: driver socket %o, untracked instant command allowed: %s', (text, driverSocket, untracked) => {
    const version = NutVersion.of(text);
    expect(nutCapabilities(version)).toEqual({ driverSocket, untrackedInstcmd: untracked });
    expect(driverSocketCapabilities(version)).toEqual(driverSocket);
  });

  it('an unknown version: 2.8.0 on the driver socket, but never an untracked instant command', () => {
    expect(nutCapabilities(undefined)).toEqual({
      driverSocket: { logout: false, getpid: false },
      untrackedInstcmd: false,
    });
  });
});
