/**
 * DriverProbe per NUT version against a fake driver socket: on 2.8.3+ it checks GETPID once and says LOGOUT
 * before closing; on 2.8.0–2.8.2 it sends neither. It never sends NOBROADCAST. (The real 2.8.0 driver is covered by
 * the integration tests; 2.8.1 and 2.8.5 by the same tests in their containers.)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DriverSocketCapabilities } from '../../src/nut/nutCapabilities.js';
import type { NutSetup } from '../../src/nut/nutSetup.js';
import { DriverProbe } from '../../src/supervisor/driverProbe.js';
import {
  driverReplies,
  type FakeDriver,
  type FakeDriverHandler,
  fakeDriver,
} from '../fixtures/fakeDriverSocket.js';
import { sleep, until } from '../fixtures/proc.js';

const until5s = (check: () => boolean) => until(check, 5000);

const MODERN: DriverSocketCapabilities = { logout: true, getpid: true };
const LEGACY: DriverSocketCapabilities = { logout: false, getpid: false };
/** Everything the probe may ever send. */
const PROBE_VERBS = new Set(['GETPID', 'DUMPALL', 'PING', 'LOGOUT']);

let dir: string;
const drivers: FakeDriver[] = [];
const probes: DriverProbe[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'probe-'));
});

afterEach(async () => {
  await Promise.all(probes.splice(0).map((p) => p.close()));
  await Promise.all(drivers.splice(0).map((d) => d.close()));
  await rm(dir, { recursive: true, force: true });
});

interface Observed {
  hung: number[];
  foreign: number[];
  statuses: string[];
}

async function probeOn(
  handler: FakeDriverHandler,
  capabilities: DriverSocketCapabilities,
  opts: { driverPid?: number; alive?: () => boolean } = {},
): Promise<{ driver: FakeDriver; probe: DriverProbe; seen: Observed }> {
  const driver = await fakeDriver(dir, handler);
  drivers.push(driver);
  const seen: Observed = { hung: [], foreign: [], statuses: [] };
  const probe = new DriverProbe({
    setup: { statePath: dir } as NutSetup,
    ups: { name: 'ups1', driver: 'dummy-ups', options: {} } as never,
    probeIntervalMs: 20,
    probeTimeoutMs: 150,
    capabilities,
    driverPid: opts.driverPid ?? 4242,
    isAlive: opts.alive ?? (() => true),
    logger: pino({ level: 'silent' }),
    onHung: (ms) => seen.hung.push(ms),
    onForeign: (pid) => seen.foreign.push(pid),
    onStatus: (status) => seen.statuses.push(status),
    onVar: () => undefined,
    onStale: () => undefined,
    onFresh: () => undefined,
  });
  probes.push(probe);
  probe.start();
  return { driver, probe, seen };
}

const pings = (driver: FakeDriver) => driver.lines.filter((l) => l === 'PING').length;

describe('DriverProbe on NUT 2.8.3+ (GETPID, LOGOUT)', () => {
  it('checks GETPID once, then dumps and pings on the same connection; close() says LOGOUT', async () => {
    const { driver, probe, seen } = await probeOn(driverReplies({ pid: 4242 }), MODERN);
    await until5s(() => pings(driver) >= 4);
    expect(driver.conns).toHaveLength(1);
    expect(driver.lines.slice(0, 3)).toEqual(['GETPID', 'PING', 'DUMPALL']);
    expect(driver.lines.filter((l) => l === 'GETPID')).toHaveLength(1);
    expect(seen.statuses.at(-1)).toBe('OL');
    await probe.close();
    expect(driver.lines.at(-1)).toBe('LOGOUT');
    await until5s(() => driver.conns[0]?.closed === true);
    expect(driver.lines.filter((l) => !PROBE_VERBS.has(l))).toEqual([]);
    expect(seen.hung).toEqual([]);
  });

  it('a socket served by another pid: error, LOGOUT to that driver, onForeign, no dump and no PING loop', async () => {
    const { driver, seen } = await probeOn(driverReplies({ pid: 777 }), MODERN, { driverPid: 4242 });
    await until5s(() => seen.foreign.length > 0);
    expect(seen.foreign).toEqual([777]);
    expect(driver.lines).toEqual(['GETPID', 'PING', 'LOGOUT']);
    await until5s(() => driver.conns[0]?.closed === true);
    await sleep(200); // several probe intervals: a probe that went on would PING or reconnect here
    expect(driver.conns).toHaveLength(1);
    expect(driver.lines).toEqual(['GETPID', 'PING', 'LOGOUT']);
    expect(seen.hung).toEqual([]);
  });

  it('a driver that does not answer GETPID (but PING) is probed as usual', async () => {
    const { driver, seen } = await probeOn(driverReplies({ pid: 1, legacy: true }), MODERN);
    await until5s(() => pings(driver) >= 3);
    expect(driver.lines.slice(0, 3)).toEqual(['GETPID', 'PING', 'DUMPALL']);
    expect(seen.foreign).toEqual([]);
    expect(seen.statuses.at(-1)).toBe('OL');
  });

  it('a driver that answers nothing is hung, and close() then sends no LOGOUT', async () => {
    const { driver, probe, seen } = await probeOn(() => undefined, MODERN);
    await until5s(() => seen.hung.length > 0);
    await probe.close();
    expect(driver.lines).toEqual(['GETPID', 'PING']);
    await until5s(() => driver.conns[0]?.closed === true);
  });

  it('close() after the driver process is gone sends no LOGOUT', async () => {
    let alive = true;
    const { driver, probe } = await probeOn(driverReplies({ pid: 4242 }), MODERN, { alive: () => alive });
    await until5s(() => pings(driver) >= 2);
    alive = false;
    await probe.close();
    expect(driver.lines).not.toContain('LOGOUT');
  });

  it('close() ends within its bound when LOGOUT is never answered', async () => {
    const handler = driverReplies({ pid: 4242 });
    const { driver, probe } = await probeOn((line, socket) => {
      if (line !== 'LOGOUT') handler(line, socket);
    }, MODERN);
    await until5s(() => pings(driver) >= 2);
    await probe.close();
    expect(driver.lines.at(-1)).toBe('LOGOUT');
    await until5s(() => driver.conns[0]?.closed === true);
  });
});

describe('DriverProbe on NUT 2.8.0–2.8.2', () => {
  it('sends neither GETPID nor LOGOUT nor NOBROADCAST, and keeps one connection until close()', async () => {
    const { driver, probe, seen } = await probeOn(driverReplies({ pid: 1, legacy: true }), LEGACY);
    await until5s(() => pings(driver) >= 4);
    await probe.close();
    await until5s(() => driver.conns[0]?.closed === true);
    expect(driver.conns).toHaveLength(1);
    expect(new Set(driver.lines)).toEqual(new Set(['DUMPALL', 'PING']));
    expect(driver.lines[0]).toBe('DUMPALL');
    expect(seen.statuses.at(-1)).toBe('OL');
  });
});
