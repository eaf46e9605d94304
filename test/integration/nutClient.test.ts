/**
 * NutClient and DriverSocket against a real upsd and real dummy-ups drivers (the host's NUT 2.8.0, or 2.8.1 / 2.8.5
 * in the lab containers).
 *
 * Each failure case gets its own UPS so the cases do not disturb each other. DriverSocket connections are
 * closed only after the lab has killed the drivers: closing one while its NUT 2.8.0 driver lives makes the
 * driver spin (and abort on its next broadcast).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NutClient } from '../../src/nut/client.js';
import { DriverSocket } from '../../src/nut/driverSocket.js';
import { DriverSocketError, isNutError, type NutError } from '../../src/nut/errors.js';
import { driverSocketCapabilities } from '../../src/nut/nutCapabilities.js';
import { NutVersion } from '../../src/nut/nutVersion.js';
import {
  createNutLab,
  cyberPowerDev,
  type NutLab,
  processAlive,
  sleep,
  waitFor,
} from '../fixtures/nutLab.js';
import { NUT_VERSION, ON_NUT } from '../fixtures/nutVersion.js';

const NAMES = ['ups1', 'ups2', 'stopme', 'killme', 'feed'] as const;

describe(`NutClient and DriverSocket against real NUT, ${ON_NUT}`, () => {
  let lab: NutLab | undefined;
  let client: NutClient;
  const driverPids = new Map<string, number>();
  const driverSockets: DriverSocket[] = [];

  const nut = (): NutLab => {
    if (!lab) throw new Error('lab not started');
    return lab;
  };
  const socketPath = (ups: string) => join(nut().statePath, `dummy-ups-${ups}`);
  const openDriverSocket = async (ups: string): Promise<DriverSocket> => {
    const ds = new DriverSocket({ path: socketPath(ups) });
    driverSockets.push(ds);
    await ds.connect(2000);
    return ds;
  };
  const pid = (ups: string): number => {
    const p = driverPids.get(ups);
    if (p === undefined) throw new Error(`no driver pid for ${ups}`);
    return p;
  };

  /** Polls until the promise rejects with a NutError of `code`; returns the error. */
  const waitForNutError = (what: string, call: () => Promise<unknown>, code: string, timeoutMs: number) =>
    waitFor(
      what,
      async () => {
        try {
          await call();
          return undefined;
        } catch (err) {
          if (isNutError(err, code)) return err;
          throw err;
        }
      },
      { timeoutMs, intervalMs: 250 },
    );

  beforeAll(async () => {
    lab = await createNutLab({
      upses: NAMES.map((name, i) => ({ name, desc: `test ${name}`, dev: cyberPowerDev(i + 1) })),
      maxAge: 5,
    });
    const pids = await Promise.all(NAMES.map((name) => nut().startDriver(name)));
    for (const [i, name] of NAMES.entries()) driverPids.set(name, pids[i] as number);
    await nut().startUpsd();
    for (const name of NAMES) await nut().waitForStatus(name, (s) => s === 'OL');
    client = new NutClient({ host: '127.0.0.1', port: nut().port, requestTimeoutMs: 5000 });
  });

  afterAll(async () => {
    await client?.close();
    for (const name of NAMES) {
      const p = driverPids.get(name);
      if (p !== undefined) {
        try {
          process.kill(p, 'SIGCONT');
        } catch {
          // already gone
        }
      }
    }
    // Drivers die first; only then are their socket connections closed.
    await lab?.stop();
    for (const ds of driverSockets) ds.close();
  });

  it('reads the version, the UPS list, variables and commands', async () => {
    const ver = await client.version();
    expect(ver).toMatch(/^Network UPS Tools upsd /);
    expect(NutVersion.parse(ver)?.toString()).toBe(NutVersion.parse(NUT_VERSION)?.toString());
    const upses = await client.listUps();
    expect([...upses.keys()].sort()).toEqual([...NAMES].sort());
    expect(upses.get('ups1')).toBe('test ups1');
    for (const [i, ups] of ['ups1', 'ups2'].entries()) {
      const vars = await client.listVar(ups);
      const dev = cyberPowerDev(i + 1);
      for (const [k, v] of Object.entries(dev)) expect(vars.get(k), k).toBe(v);
      expect(vars.get('driver.name')).toBe('dummy-ups');
      expect(await client.getVar(ups, 'ups.status')).toBe('OL');
      expect(await client.getVar(ups, 'device.serial')).toBe(dev['device.serial']);
      // dummy-ups's one command; later NUT adds commands every driver has (2.8.1 driver.reload…, 2.8.5
      // shutdown.default).
      expect(await client.listCmd(ups)).toContain('load.off');
      expect(await client.getUpsDesc(ups)).toBe(`test ${ups}`);
      expect(await client.numLogins(ups)).toBe(0);
    }
  });

  it('pipelined LIST VARs for two UPSes return the right map for each', async () => {
    const [a, b, statusA, c] = await Promise.all([
      client.listVar('ups1'),
      client.listVar('ups2'),
      client.getVar('ups1', 'ups.status'),
      client.listVar('ups1'),
    ]);
    expect(a.get('device.serial')).toBe(cyberPowerDev(1)['device.serial']);
    expect(b.get('device.serial')).toBe(cyberPowerDev(2)['device.serial']);
    expect(statusA).toBe('OL');
    expect(c).toEqual(a);
    // Same content as upsc sees, except driver.state: NUT 2.8.1+ drivers flip it (updateinfo → quiet) on every
    // update, so the two reads may catch different moments.
    const withoutState = (vars: Record<string, string>) => {
      const { 'driver.state': _state, ...rest } = vars;
      return rest;
    };
    expect(withoutState(Object.fromEntries(b))).toEqual(withoutState(await nut().upsc('ups2')));
  });

  it('types upsd errors: UNKNOWN-UPS, VAR-NOT-SUPPORTED', async () => {
    await expect(client.getVar('nosuch', 'ups.status')).rejects.toSatisfy((e) =>
      isNutError(e, 'UNKNOWN-UPS'),
    );
    await expect(client.listVar('nosuch')).rejects.toSatisfy((e) => isNutError(e, 'UNKNOWN-UPS'));
    await expect(client.getVar('ups1', 'no.such.var')).rejects.toSatisfy((e) =>
      isNutError(e, 'VAR-NOT-SUPPORTED'),
    );
    // The connection survived the errors.
    expect(await client.getVar('ups1', 'ups.status')).toBe('OL');
  });

  it('instcmd: load.off is tracked to ERR UNKNOWN (dummy-ups runs no command); wrong password is ACCESS-DENIED; unknown command is CMD-NOT-SUPPORTED', async () => {
    const admin = nut().adminUser;
    // upsd accepts it (`OK TRACKING <id>`), the driver answers "unknown", and GET TRACKING says ERR UNKNOWN.
    const result = await client.instcmd('ups1', 'load.off', admin);
    expect(result).toMatchObject({ outcome: 'failed', code: 'UNKNOWN' });
    const denied = await client
      .instcmd('ups1', 'load.off', { username: admin.username, password: 'wrong-password' })
      .catch((e: unknown) => e);
    expect(isNutError(denied, 'ACCESS-DENIED')).toBe(true);
    expect((denied as NutError).message).not.toContain('wrong-password');
    const unsupported = await client.instcmd('ups1', 'beeper.disable', admin).catch((e: unknown) => e);
    expect(isNutError(unsupported, 'CMD-NOT-SUPPORTED')).toBe(true);
    // The polling connection never carried credentials and is still fine.
    expect(await client.getVar('ups1', 'ups.status')).toBe('OL');
  });

  it('a SIGSTOPped driver: PING on its socket times out; upsd says DATA-STALE; SIGCONT recovers', async () => {
    const ds = await openDriverSocket('stopme');
    await ds.ping(3000); // dummy-ups may take up to ~1 s (it sleeps inside its update)
    process.kill(pid('stopme'), 'SIGSTOP');
    try {
      const err = await ds.ping(1500).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DriverSocketError);
      expect((err as DriverSocketError).code).toBe('TIMEOUT');
      await waitForNutError('DATA-STALE', () => client.getVar('stopme', 'ups.status'), 'DATA-STALE', 20_000);
      await expect(client.listVar('stopme')).rejects.toSatisfy((e) => isNutError(e, 'DATA-STALE'));
    } finally {
      process.kill(pid('stopme'), 'SIGCONT');
    }
    await waitFor('fresh data after SIGCONT', async () =>
      (await client.getVar('stopme', 'ups.status').catch(() => undefined)) === 'OL' ? true : undefined,
    );
    // The PING that timed out is answered late; the next ping must still get its own PONG.
    expect(await ds.ping(3000)).toBeGreaterThanOrEqual(0);
    expect(ds.connected).toBe(true);
  }, 45_000);

  it('a SIGKILLed driver: DRIVER-NOT-CONNECTED; its stale socket file refuses connections', async () => {
    const killed = pid('killme');
    process.kill(killed, 'SIGKILL');
    await waitForNutError(
      'DRIVER-NOT-CONNECTED',
      () => client.getVar('killme', 'ups.status'),
      'DRIVER-NOT-CONNECTED',
      10_000,
    );
    // upsd can notice the dropped connection while the dying driver has not yet closed its listening socket (a
    // connect then lands in the backlog and is reset): the file is stale once the process has fully exited.
    await waitFor('the killed driver gone', () => (processAlive(killed) ? undefined : true));
    const ds = new DriverSocket({ path: socketPath('killme') });
    const err = await ds.connect(2000).catch((e: unknown) => e);
    expect((err as DriverSocketError).code).toBe('ECONNREFUSED');
    const none = await new DriverSocket({ path: socketPath('nosuch') })
      .connect(2000)
      .catch((e: unknown) => e);
    expect((none as DriverSocketError).code).toBe('ENOENT');
    // Other UPSes are unaffected.
    expect(await client.getVar('ups2', 'ups.status')).toBe('OL');
  }, 30_000);

  it('DriverSocket: dumpAll, ping, and a live SETINFO when the .dev file changes', async () => {
    const ds = await openDriverSocket('feed');
    const dump = await ds.dumpAll(5000);
    expect(dump.vars.get('ups.status')).toBe('OL');
    expect(dump.vars.get('device.serial')).toBe(cyberPowerDev(5)['device.serial']);
    expect(dump.commands).toContain('load.off');
    expect(dump.stale).toBe(false);
    expect(await ds.ping(3000)).toBeGreaterThanOrEqual(0);

    const statusEvents: Array<[string, string | undefined]> = [];
    ds.on('setinfo', (name, value, previous) => {
      if (name === 'ups.status') statusEvents.push([value, previous]);
    });
    // Let at least one second pass so the new mtime differs in whole seconds (what dummy-ups compares).
    await sleep(1100);
    await nut().writeDev('feed', { 'ups.status': 'OB DISCHRG' });
    await waitFor('a setinfo for ups.status', () => (statusEvents.length > 0 ? true : undefined), {
      timeoutMs: 10_000,
    });
    expect(statusEvents).toEqual([['OB DISCHRG', 'OL']]);
    expect(ds.vars.get('ups.status')).toBe('OB DISCHRG');
    expect(ds.connected).toBe(true);
  }, 30_000);

  const socketCaps = driverSocketCapabilities(NutVersion.parse(NUT_VERSION));
  it(`DriverSocket: GETPID ${socketCaps.getpid ? 'names the driver process and LOGOUT is answered OK Goodbye' : 'is unknown (no LOGOUT is sent: closing would make the driver spin)'}`, async () => {
    const ds = await openDriverSocket('ups2');
    const reported = await ds.getPid(5000);
    if (!socketCaps.getpid) {
      expect(reported).toBeUndefined();
      expect(ds.connected).toBe(true);
      return;
    }
    expect(reported).toBe(pid('ups2'));
    expect(await ds.logout(3000)).toBe('goodbye');
    expect(ds.connected).toBe(false);
    // The driver dropped the client itself and still serves upsd.
    expect(await client.getVar('ups2', 'ups.status')).toBe('OL');
  }, 30_000);
});
