/**
 * DriverSocket against an in-process unix-socket server that plays a NUT driver (2.8.0, or 2.8.3+ where stated).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DriverSocket } from '../../src/nut/driverSocket.js';
import { DriverSocketError } from '../../src/nut/errors.js';
import {
  driverReplies,
  type FakeDriver,
  type FakeDriverHandler,
  fakeDriver as fakeDriverIn,
} from '../fixtures/fakeDriverSocket.js';
import { sleep, until } from '../fixtures/proc.js';

let dir: string;
const drivers: FakeDriver[] = [];
const sockets: DriverSocket[] = [];

beforeEach(async () => {
  // Short path: sun_path is limited to 108 bytes.
  dir = await mkdtemp(join(tmpdir(), 'drvsock-'));
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await Promise.all(drivers.splice(0).map((d) => d.close()));
  await rm(dir, { recursive: true, force: true });
});

async function fakeDriver(onLine?: FakeDriverHandler): Promise<FakeDriver> {
  const driver = await fakeDriverIn(dir, onLine);
  drivers.push(driver);
  return driver;
}

function driverSocket(path: string, maxLineBytes?: number): DriverSocket {
  const s = new DriverSocket({ path, maxLineBytes });
  sockets.push(s);
  return s;
}

const DUMP = [
  'SETINFO battery.charge "100"',
  'SETFLAGS battery.charge RW',
  'SETINFO ups.mfr "Dummy \\"Quoted\\" \\\\ Manufacturer"',
  'SETAUX ups.mfr 32',
  'SETFLAGS ups.mfr RW STRING',
  'SETINFO ups.status "OB DISCHRG"',
  'SETINFO ups.test.result ""',
  'ADDENUM ups.delay.shutdown "20"',
  'ADDCMD load.off',
  'ADDCMD beeper.disable',
  'DATASTALE',
  'DUMPDONE',
]
  .map((l) => `${l}\n`)
  .join('');

describe('DriverSocket: connect', () => {
  it('rejects ENOENT when there is no socket file', async () => {
    const err = await driverSocket(join(dir, 'dummy-ups-none'))
      .connect(1000)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverSocketError);
    expect((err as DriverSocketError).code).toBe('ENOENT');
  });

  it('rejects ECONNREFUSED for a stale socket file left by a dead driver', async () => {
    const path = join(dir, 'dummy-ups-dead');
    // A child binds the socket and is SIGKILLed: the file stays and nobody listens (like a SIGKILLed driver).
    const script = `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
    spawnSync(process.execPath, ['-e', script], { timeout: 10_000 });
    expect(existsSync(path)).toBe(true);
    const err = await driverSocket(path)
      .connect(1000)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverSocketError);
    expect((err as DriverSocketError).code).toBe('ECONNREFUSED');
  });

  it('refuses a second connect while connected', async () => {
    const driver = await fakeDriver();
    const s = driverSocket(driver.path);
    await s.connect(1000);
    const err = await s.connect(1000).catch((e: unknown) => e);
    expect((err as DriverSocketError).code).toBe('EISCONN');
    expect(s.connected).toBe(true);
  });

  it('refuses a second connect while the first is in progress, and close() abandons a connect', async () => {
    const driver = await fakeDriver();
    const s = driverSocket(driver.path);
    const first = s.connect(1000).catch((e: unknown) => e);
    const second = await s.connect(1000).catch((e: unknown) => e);
    expect((second as DriverSocketError).code).toBe('EISCONN');
    s.close();
    expect(((await first) as DriverSocketError).code).toBe('CLOSED');
    expect(s.connected).toBe(false);
  });
});

describe('DriverSocket: ping', () => {
  it('skips and applies broadcasts that arrive before PONG', async () => {
    const driver = await fakeDriver((line, socket) => {
      if (line === 'PING')
        socket.write('SETINFO ups.load "20"\nSETINFO ups.status "OB"\nTRACKING x 0\nPONG\n');
    });
    const s = driverSocket(driver.path);
    const changes: string[] = [];
    s.on('setinfo', (name, value) => changes.push(`${name}=${value}`));
    await s.connect(1000);
    const rtt = await s.ping(1000);
    expect(typeof rtt).toBe('number');
    expect(rtt).toBeGreaterThanOrEqual(0);
    expect(changes).toEqual(['ups.load=20', 'ups.status=OB']);
    expect(s.vars.get('ups.status')).toBe('OB');
  });

  it('joins a ping that is already pending: one PING on the wire', async () => {
    let answer: (() => void) | undefined;
    const driver = await fakeDriver((line, socket) => {
      if (line === 'PING') answer = () => socket.write('PONG\n');
    });
    const s = driverSocket(driver.path);
    await s.connect(1000);
    const a = s.ping(1000);
    const b = s.ping(1000);
    await until(() => answer !== undefined);
    answer?.();
    expect(await a).toBe(await b);
    expect(driver.lines).toEqual(['PING']);
  });

  it('times out with code TIMEOUT and keeps the connection', async () => {
    const driver = await fakeDriver();
    const s = driverSocket(driver.path);
    await s.connect(1000);
    const err = await s.ping(100).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverSocketError);
    expect((err as DriverSocketError).code).toBe('TIMEOUT');
    expect(s.connected).toBe(true);
  });

  it('reads a PONG that came while the agent itself was stalled before it calls the PING timed out', async () => {
    // The driver is another process (an in-process fake would be stalled too): it answers at once, while this
    // process is busy past the PING's timeout. Timers run before I/O; the timeout must still see the PONG.
    const path = join(dir, 'stall.sock');
    const server = spawn(
      process.execPath,
      [
        '-e',
        `require('node:net').createServer((c) => c.on('data', (d) => { if (String(d).includes('PING')) c.write('PONG\\n'); })).listen(${JSON.stringify(path)}, () => console.log('up'));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise((resolve) => server.stdout?.once('data', resolve));
      const s = driverSocket(path);
      await s.connect(1000);
      const pong = s.ping(100);
      const busyUntil = Date.now() + 400;
      while (Date.now() < busyUntil) {
        // the agent stalls (a long GC, a starved CPU)
      }
      await expect(pong).resolves.toBeGreaterThanOrEqual(0);
    } finally {
      server.kill('SIGKILL');
    }
  });

  it('does not let the late PONG of a timed-out ping answer the next one', async () => {
    const driver = await fakeDriver();
    const s = driverSocket(driver.path);
    await s.connect(1000);
    await expect(s.ping(50)).rejects.toThrow(DriverSocketError);
    let settled = false;
    const second = s.ping(5000).finally(() => {
      settled = true;
    });
    await until(() => driver.lines.length === 2);
    driver.broadcast('PONG\n'); // answers the first PING (a hung driver resuming)
    await sleep(50);
    expect(settled).toBe(false);
    driver.broadcast('PONG\n');
    expect(await second).toBeGreaterThanOrEqual(0);
  });

  it('rejects when not connected', async () => {
    const err = await driverSocket(join(dir, 'x'))
      .ping(100)
      .catch((e: unknown) => e);
    expect((err as DriverSocketError).code).toBe('NOT-CONNECTED');
  });
});

describe('DriverSocket: dumpAll and the live feed', () => {
  it('parses a DUMPALL delivered one byte at a time', async () => {
    const driver = await fakeDriver((line, socket) => {
      if (line !== 'DUMPALL') return;
      void (async () => {
        for (const byte of Buffer.from(DUMP)) {
          socket.write(Buffer.from([byte]));
          await sleep(0);
        }
      })();
    });
    const s = driverSocket(driver.path);
    const events: string[] = [];
    s.on('datastale', () => events.push('datastale'));
    s.on('dumpdone', () => events.push('dumpdone'));
    await s.connect(1000);
    expect(s.stale).toBeUndefined();
    const dump = await s.dumpAll(5000);
    expect(dump.vars).toEqual(
      new Map([
        ['battery.charge', '100'],
        ['ups.mfr', 'Dummy "Quoted" \\ Manufacturer'],
        ['ups.status', 'OB DISCHRG'],
        ['ups.test.result', ''],
      ]),
    );
    expect(dump.commands).toEqual(['load.off', 'beeper.disable']);
    expect(dump.stale).toBe(true);
    expect(s.stale).toBe(true);
    expect(events).toEqual(['datastale', 'dumpdone']);
    // The result is a copy: later broadcasts change s.vars, not the dump.
    driver.broadcast('SETINFO ups.status "OL"\n');
    await until(() => s.vars.get('ups.status') === 'OL');
    expect(dump.vars.get('ups.status')).toBe('OB DISCHRG');
  });

  it('emits setinfo only when a value changes, with the previous value', async () => {
    const driver = await fakeDriver();
    const s = driverSocket(driver.path);
    const events: Array<[string, string, string | undefined]> = [];
    s.on('setinfo', (name, value, previous) => events.push([name, value, previous]));
    await s.connect(1000);
    driver.broadcast('SETINFO ups.status "OL"\nSETINFO ups.status "OL"\nSETINFO ups.status "OB"\nPONG\n');
    await s.ping(1000);
    expect(events).toEqual([
      ['ups.status', 'OL', undefined],
      ['ups.status', 'OB', 'OL'],
    ]);
  });

  it('tracks DELINFO, ADDCMD/DELCMD and DATASTALE/DATAOK transitions', async () => {
    const driver = await fakeDriver();
    const s = driverSocket(driver.path);
    const events: string[] = [];
    s.on('delinfo', (name) => events.push(`delinfo ${name}`));
    s.on('datastale', () => events.push('datastale'));
    s.on('dataok', () => events.push('dataok'));
    await s.connect(1000);
    driver.broadcast(
      [
        'SETINFO ups.load "5"',
        'DELINFO ups.load',
        'DELINFO never.set',
        'ADDCMD load.off',
        'ADDCMD load.on',
        'DELCMD load.off',
        'DATAOK',
        'DATAOK',
        'DATASTALE',
        'DATASTALE',
        'DATAOK',
        'PONG',
        '',
      ].join('\n'),
    );
    await s.ping(1000);
    expect(events).toEqual(['delinfo ups.load', 'dataok', 'datastale', 'dataok']);
    expect(s.vars.has('ups.load')).toBe(false);
    expect(s.commands).toEqual(['load.on']);
    expect(s.stale).toBe(false);
  });

  it('ignores unknown lines and skips an over-long line without dropping the connection', async () => {
    const driver = await fakeDriver();
    const s = driverSocket(driver.path, 1024);
    await s.connect(1000);
    driver.broadcast(
      `WHATEVER this is\nSETINFO huge "${'x'.repeat(100_000)}"\nSETINFO ups.status "OL"\nPONG\n`,
    );
    await s.ping(1000);
    expect(s.connected).toBe(true);
    expect(s.vars.has('huge')).toBe(false);
    expect(s.vars.get('ups.status')).toBe('OL');
  });

  it('reads an unescaped 2.8.0 broadcast verbatim', async () => {
    const driver = await fakeDriver();
    const s = driverSocket(driver.path);
    await s.connect(1000);
    driver.broadcast('SETINFO ups.test.result "say "hi""\nPONG\n');
    await s.ping(1000);
    expect(s.vars.get('ups.test.result')).toBe('say "hi"');
  });
});

describe('DriverSocket: close', () => {
  it('close() rejects pending requests with CLOSED and emits close without an error', async () => {
    const driver = await fakeDriver();
    const s = driverSocket(driver.path);
    await s.connect(1000);
    const closed = new Promise<unknown>((resolve) => s.once('close', resolve));
    const ping = s.ping(5000).catch((e: unknown) => e);
    const dump = s.dumpAll(5000).catch((e: unknown) => e);
    s.close();
    expect(((await ping) as DriverSocketError).code).toBe('CLOSED');
    expect(((await dump) as DriverSocketError).code).toBe('CLOSED');
    expect(await closed).toBeUndefined();
    expect(s.connected).toBe(false);
    s.close(); // idempotent
  });

  it('a driver that goes away rejects pending requests and emits close with the error', async () => {
    const driver = await fakeDriver((line, socket) => {
      if (line === 'PING') socket.destroy();
    });
    const s = driverSocket(driver.path);
    await s.connect(1000);
    const closed = new Promise<DriverSocketError | undefined>((resolve) => s.once('close', resolve));
    const err = await s.ping(5000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverSocketError);
    expect(['EOF', 'ECONNRESET']).toContain((err as DriverSocketError).code);
    expect((await closed)?.code).toBe((err as DriverSocketError).code);
  });

  it('can connect again after the driver restarted, with fresh state', async () => {
    const first = await fakeDriver();
    const s = driverSocket(first.path);
    await s.connect(1000);
    first.broadcast('SETINFO ups.status "OL"\nPONG\n');
    await s.ping(1000);
    const closed = new Promise((resolve) => s.once('close', resolve));
    await first.close();
    await closed;
    const second = await fakeDriver((line, socket) => {
      if (line === 'DUMPALL') socket.write('SETINFO ups.status "WAIT"\nDATAOK\nDUMPDONE\n');
    });
    await s.connect(1000);
    const dump = await s.dumpAll(1000);
    expect(dump.vars).toEqual(new Map([['ups.status', 'WAIT']]));
    expect(second.lines).toEqual(['DUMPALL']);
  });
});

describe('DriverSocket: GETPID and LOGOUT (NUT 2.8.3+)', () => {
  it('getPid() resolves the pid a 2.8.3+ driver reports, skipping broadcasts', async () => {
    const driver = await fakeDriver((line, socket) => {
      if (line === 'GETPID') socket.write('SETINFO driver.state "quiet"\nPID 4242\n');
      else if (line === 'PING') socket.write('PONG\n');
    });
    const s = driverSocket(driver.path);
    await s.connect(1000);
    expect(await s.getPid(1000)).toBe(4242);
    expect(driver.lines).toEqual(['GETPID', 'PING']);
    expect(s.vars.get('driver.state')).toBe('quiet');
  });

  it('getPid() resolves undefined when the driver answers the PING behind it but not GETPID (2.8.0–2.8.2)', async () => {
    const driver = await fakeDriver((line, socket) => {
      if (line === 'PING') socket.write('PONG\n');
    });
    const s = driverSocket(driver.path);
    await s.connect(1000);
    expect(await s.getPid(1000)).toBeUndefined();
  });

  it('getPid() rejects TIMEOUT when the driver answers nothing, and keeps the connection', async () => {
    const driver = await fakeDriver();
    const s = driverSocket(driver.path);
    await s.connect(1000);
    const err = await s.getPid(100).catch((e: unknown) => e);
    expect((err as DriverSocketError).code).toBe('TIMEOUT');
    expect(s.connected).toBe(true);
  });

  it('ignores a malformed PID line', async () => {
    const driver = await fakeDriver((line, socket) => {
      if (line === 'GETPID') socket.write('PID -1\nPID 12x\nPID\n');
      else if (line === 'PING') socket.write('PONG\n');
    });
    const s = driverSocket(driver.path);
    await s.connect(1000);
    expect(await s.getPid(1000)).toBeUndefined();
  });

  it('logout() waits for OK Goodbye, then the connection is closed', async () => {
    const driver = await fakeDriver(driverReplies({ pid: 1 }));
    const s = driverSocket(driver.path);
    await s.connect(1000);
    const closed = new Promise<unknown>((resolve) => s.once('close', resolve));
    expect(await s.logout(1000)).toBe('goodbye');
    expect(await closed).toBeUndefined(); // closed by us: no error
    expect(s.connected).toBe(false);
    expect(driver.lines).toEqual(['LOGOUT']);
    await until(() => driver.conns[0]?.closed === true);
  });

  it('logout() ends at the limit when a driver never answers (2.8.0 logs "Unknown command")', async () => {
    const driver = await fakeDriver();
    const s = driverSocket(driver.path);
    await s.connect(1000);
    expect(await s.logout(100)).toBe('timeout');
    expect(s.connected).toBe(false);
    await until(() => driver.conns[0]?.closed === true);
  });

  it('logout() resolves "closed" when the driver drops the connection without a word', async () => {
    const driver = await fakeDriver((line, socket) => {
      if (line === 'LOGOUT') socket.destroy();
    });
    const s = driverSocket(driver.path);
    await s.connect(1000);
    expect(await s.logout(5000)).toBe('closed');
    expect(await s.logout(5000)).toBe('not-connected');
  });
});
