/**
 * NutClient against in-process fake upsd servers: a hostile or broken upsd cannot be produced with the real one.
 */
import net from 'node:net';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NutClient, type NutClientOptions } from '../../src/nut/client.js';
import {
  isNutError,
  NutArgumentError,
  NutConnectionError,
  NutError,
  NutProtocolError,
  NutTimeoutError,
} from '../../src/nut/errors.js';
import { sleep, until } from '../fixtures/proc.js';

type Handler = (line: string, conn: FakeConn) => void | Promise<void>;

interface FakeConn {
  id: number;
  socket: net.Socket;
  lines: string[];
  send(text: string): void;
}

interface FakeUpsd {
  port: number;
  conns: FakeConn[];
  /** Every line received, on any connection, in order. */
  lines: string[];
  close(): Promise<void>;
}

const servers: FakeUpsd[] = [];
const clients: NutClient[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A TCP server on 127.0.0.1:0 that hands every received line to `handler` (lines are handled one by one). */
async function fakeUpsd(handler: Handler): Promise<FakeUpsd> {
  const conns: FakeConn[] = [];
  const lines: string[] = [];
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => undefined); // the client may reset us; that is the point of several tests
    const conn: FakeConn = {
      id: conns.length + 1,
      socket,
      lines: [],
      send: (text) => {
        if (!socket.destroyed) socket.write(text);
      },
    };
    conns.push(conn);
    let buf = '';
    let chain = Promise.resolve();
    socket.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      let nl = buf.indexOf('\n');
      while (nl !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        conn.lines.push(line);
        lines.push(line);
        chain = chain.then(() => handler(line, conn));
        nl = buf.indexOf('\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const fake: FakeUpsd = {
    port,
    conns,
    lines,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of conns) c.socket.destroy();
        server.close(() => resolve());
      }),
  };
  servers.push(fake);
  return fake;
}

const TRACKING_ID = 'F4F78A1F-D59B-4F21-82C6-9729871FA9DC';

/**
 * Plays upsd for an instant command with TRACKING: OK to login and SET TRACKING, `OK TRACKING <id>` to INSTCMD,
 * then one scripted reply per GET TRACKING (the last one repeats), `OK Goodbye` and close to LOGOUT.
 */
function trackingUpsd(replies: string[], overrides: Record<string, string> = {}): Handler {
  let polls = 0;
  return (line, conn) => {
    const verb = /^(USERNAME|PASSWORD|SET TRACKING|INSTCMD|GET TRACKING|LOGOUT)\b/.exec(line)?.[1];
    const override = verb === undefined ? undefined : overrides[verb];
    if (override === 'CLOSE') conn.socket.destroy();
    else if (override !== undefined) conn.send(`${override}\n`);
    else if (verb === 'LOGOUT') conn.socket.end('OK Goodbye\n');
    else if (verb === 'INSTCMD') conn.send(`OK TRACKING ${TRACKING_ID}\n`);
    else if (verb === 'GET TRACKING') {
      const reply = replies[Math.min(polls++, replies.length - 1)];
      if (reply === 'CLOSE') conn.socket.destroy();
      else conn.send(`${reply}\n`);
    } else if (verb !== undefined) conn.send('OK\n');
    else basicHandler(line, conn);
  };
}

function client(port: number, opts: Partial<NutClientOptions> = {}): NutClient {
  const c = new NutClient({ host: '127.0.0.1', port, requestTimeoutMs: 2000, keepAliveMs: 0, ...opts });
  clients.push(c);
  return c;
}

function listVarReply(ups: string, vars: Record<string, string>): string {
  const items = Object.entries(vars).map(([k, v]) => `VAR ${ups} ${k} "${v.replace(/[\\"]/g, '\\$&')}"\n`);
  return `BEGIN LIST VAR ${ups}\n${items.join('')}END LIST VAR ${ups}\n`;
}

const UPS1 = {
  'battery.charge': '100',
  'ups.status': 'OL',
  'ups.model': 'CP1500 "PFC" \\ LCD',
  'ups.test.result': '',
};
const UPS2 = { 'battery.charge': '64', 'ups.status': 'OB DISCHRG', 'ups.load': '18' };

/** Answers like upsd for two UPSes. */
function basicHandler(line: string, conn: FakeConn): void {
  const [cmd, sub, ups, name] = line.split(' ');
  const table: Record<string, Record<string, string>> = { ups1: UPS1, ups2: UPS2 };
  if (cmd === 'VER') conn.send('Network UPS Tools upsd 2.8.0 - http://www.networkupstools.org/\n');
  else if (cmd === 'LIST' && sub === 'VAR' && ups && table[ups]) conn.send(listVarReply(ups, table[ups]));
  else if (cmd === 'GET' && sub === 'VAR' && ups && name && table[ups]?.[name] !== undefined) {
    conn.send(`VAR ${ups} ${name} "${table[ups][name]}"\n`);
  } else if (cmd === 'GET' || cmd === 'LIST') conn.send('ERR UNKNOWN-UPS\n');
  else conn.send('ERR UNKNOWN-COMMAND\n');
}

describe('NutClient: reply framing', () => {
  it('reads a LIST VAR delivered one byte per TCP write', async () => {
    const server = await fakeUpsd(async (line, conn) => {
      if (line !== 'LIST VAR ups1') return;
      for (const byte of Buffer.from(listVarReply('ups1', UPS1))) {
        conn.socket.write(Buffer.from([byte]));
        await sleep(1);
      }
    });
    const vars = await client(server.port).listVar('ups1');
    expect(vars).toEqual(new Map(Object.entries(UPS1)));
  });

  it('reads pipelined LISTs whose replies are cut at arbitrary chunk boundaries', async () => {
    let requests = 0;
    const server = await fakeUpsd(async (_line, conn) => {
      if (++requests < 3) return;
      // All three replies back to back, re-cut into 7-byte chunks that straddle line and reply boundaries.
      const all = Buffer.from(
        `${listVarReply('ups1', UPS1)}${listVarReply('ups2', UPS2)}VAR ups2 ups.status "OB DISCHRG"\n`,
      );
      for (let i = 0; i < all.length; i += 7) {
        conn.socket.write(all.subarray(i, i + 7));
        await sleep(0);
      }
    });
    const c = client(server.port);
    const [a, b, status] = await Promise.all([
      c.listVar('ups1'),
      c.listVar('ups2'),
      c.getVar('ups2', 'ups.status'),
    ]);
    expect(a).toEqual(new Map(Object.entries(UPS1)));
    expect(b).toEqual(new Map(Object.entries(UPS2)));
    expect(status).toBe('OB DISCHRG');
  });

  it('pipelines: writes every request before any reply, then matches replies in FIFO order', async () => {
    const n = 20;
    const server = await fakeUpsd((_line, conn) => {
      // Answer only once all requests have arrived: a client that waited for each reply would deadlock here.
      if (conn.lines.length < n) return;
      conn.send(conn.lines.map((l, i) => `VAR ${l.split(' ')[2]} ups.load "${i}"\n`).join(''));
    });
    const c = client(server.port);
    const results = await Promise.all(Array.from({ length: n }, (_, i) => c.getVar(`ups${i}`, 'ups.load')));
    expect(results).toEqual(Array.from({ length: n }, (_, i) => String(i)));
    expect(server.conns).toHaveLength(1);
  });

  it('returns version, UPS list, commands, description and logins', async () => {
    const server = await fakeUpsd((line, conn) => {
      const replies: Record<string, string> = {
        VER: 'Network UPS Tools upsd 2.8.0 - http://www.networkupstools.org/\n',
        'LIST UPS': 'BEGIN LIST UPS\nUPS ups1 "lab UPS 1"\nUPS ups2 "with \\"quotes\\""\nEND LIST UPS\n',
        'LIST CMD ups1':
          'BEGIN LIST CMD ups1\nCMD ups1 load.off\nCMD ups1 test.battery.start\nEND LIST CMD ups1\n',
        'GET UPSDESC ups1': 'UPSDESC ups1 "lab UPS 1"\n',
        'GET NUMLOGINS ups1': 'NUMLOGINS ups1 2\n',
      };
      conn.send(replies[line] ?? 'ERR UNKNOWN-COMMAND\n');
    });
    const c = client(server.port);
    expect(await c.version()).toMatch(/^Network UPS Tools upsd 2\.8\.0/);
    expect(await c.listUps()).toEqual(
      new Map([
        ['ups1', 'lab UPS 1'],
        ['ups2', 'with "quotes"'],
      ]),
    );
    expect(await c.listCmd('ups1')).toEqual(['load.off', 'test.battery.start']);
    expect(await c.getUpsDesc('ups1')).toBe('lab UPS 1');
    expect(await c.numLogins('ups1')).toBe(2);
  });

  it('passes ups.status "WAIT" through as a value', async () => {
    const server = await fakeUpsd((_line, conn) => conn.send('VAR ups1 ups.status "WAIT"\n'));
    expect(await client(server.port).getVar('ups1', 'ups.status')).toBe('WAIT');
  });
});

describe('NutClient: errors from upsd', () => {
  it('turns ERR DATA-STALE into a typed NutError and keeps the connection', async () => {
    let stale = true;
    const server = await fakeUpsd((_line, conn) =>
      conn.send(stale ? 'ERR DATA-STALE\n' : 'VAR ups1 ups.status "OL"\n'),
    );
    const c = client(server.port);
    const err = await c.getVar('ups1', 'ups.status').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NutError);
    expect(isNutError(err, 'DATA-STALE')).toBe(true);
    expect((err as NutError).request).toBe('GET VAR ups1 ups.status');
    stale = false;
    expect(await c.getVar('ups1', 'ups.status')).toBe('OL');
    expect(server.conns).toHaveLength(1);
  });

  it('turns ERR on a LIST into a typed NutError', async () => {
    const server = await fakeUpsd(basicHandler);
    const err = await client(server.port)
      .listVar('nosuch')
      .catch((e: unknown) => e);
    expect(isNutError(err, 'UNKNOWN-UPS')).toBe(true);
  });
});

describe('NutClient: hostile server', () => {
  it.each([
    ['a VAR for another UPS', 'VAR ups2 ups.status "OL"\n'],
    ['a VAR for another variable', 'VAR ups1 ups.load "5"\n'],
    ['a line of garbage', 'hello there\n'],
    ['an unterminated quote', 'VAR ups1 ups.status "OL\n'],
  ])('rejects %s with NutProtocolError and drops the connection', async (_what, reply) => {
    const server = await fakeUpsd((_line, conn) => conn.send(reply));
    const c = client(server.port);
    const disconnects: Error[] = [];
    c.on('disconnect', (e) => disconnects.push(e));
    const [first, second] = await Promise.allSettled([
      c.getVar('ups1', 'ups.status'),
      c.getVar('ups1', 'ups.status'),
    ]);
    expect(first.status === 'rejected' && first.reason).toBeInstanceOf(NutProtocolError);
    // The second request's reply position is unknown after garbage: it is cut off with the connection.
    expect(second.status === 'rejected' && second.reason).toBeInstanceOf(NutConnectionError);
    expect(c.connected).toBe(false);
    expect(disconnects).toHaveLength(1);
  });

  it('treats an unsolicited line as a protocol error', async () => {
    const server = await fakeUpsd(basicHandler);
    const c = client(server.port);
    await c.connect();
    const disconnected = new Promise<Error>((resolve) => c.once('disconnect', resolve));
    await until(() => server.conns.length === 1);
    server.conns[0]?.send('VAR ups1 ups.status "OL"\n');
    expect(await disconnected).toBeInstanceOf(NutProtocolError);
  });

  it('rejects a 10 MB line without buffering more than maxLineBytes', async () => {
    const maxLineBytes = 64 * 1024;
    const server = await fakeUpsd((_line, conn) => {
      const mb = Buffer.alloc(1024 * 1024, 'A');
      for (let i = 0; i < 10; i++) conn.send(mb.toString());
      conn.send('\n');
    });
    const c = client(server.port, { maxLineBytes });
    const err = await c.getVar('ups1', 'ups.status').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NutProtocolError);
    expect((err as Error).message).toMatch(/longer than 65536 bytes/);
    expect(c.lineBuffer.peakBytes).toBeLessThanOrEqual(maxLineBytes);
    expect(c.connected).toBe(false);
  });

  it('rejects a LIST with more than maxListItems items', async () => {
    const vars = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`v.${i}`, String(i)]));
    const server = await fakeUpsd((_line, conn) => conn.send(listVarReply('ups1', vars)));
    const err = await client(server.port, { maxListItems: 10 })
      .listVar('ups1')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NutProtocolError);
  });

  it('times out a server that never answers, fails the rest, and leaves no timer behind', async () => {
    // Track only the client's timers, recognisable by their unusual delays.
    const ours = new Set([211, 3001, 30_007]);
    const live = new Set<unknown>();
    const realSet = globalThis.setTimeout;
    const realClear = globalThis.clearTimeout;
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      const handle = realSet(() => {
        live.delete(handle);
        fn();
      }, ms);
      if (ms !== undefined && ours.has(ms)) live.add(handle);
      return handle;
    }) as typeof setTimeout);
    vi.spyOn(globalThis, 'clearTimeout').mockImplementation(((handle: NodeJS.Timeout | undefined) => {
      live.delete(handle);
      realClear(handle);
    }) as typeof clearTimeout);

    const server = await fakeUpsd(() => undefined);
    const c = client(server.port, { requestTimeoutMs: 211, connectTimeoutMs: 3001, keepAliveMs: 30_007 });
    const [first, second] = await Promise.allSettled([c.getVar('ups1', 'ups.status'), c.listVar('ups1')]);
    expect(first.status === 'rejected' && first.reason).toBeInstanceOf(NutTimeoutError);
    expect(first.status === 'rejected' && first.reason.code).toBe('TIMEOUT');
    expect(second.status === 'rejected' && second.reason).toBeInstanceOf(NutConnectionError);
    expect(c.connected).toBe(false);
    expect(live.size).toBe(0);
  });

  it('rejects with NutConnectionError when the server resets mid-list', async () => {
    const server = await fakeUpsd((_line, conn) => {
      conn.send('BEGIN LIST VAR ups1\nVAR ups1 battery.charge "100"\n');
      setTimeout(() => conn.socket.resetAndDestroy(), 20);
    });
    const err = await client(server.port)
      .listVar('ups1')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NutConnectionError);
    expect(['ECONNRESET', 'EOF']).toContain((err as NutConnectionError).code);
  });

  it('rejects with NutConnectionError(EOF) when the server closes mid-list', async () => {
    const server = await fakeUpsd((_line, conn) => {
      conn.socket.end('BEGIN LIST VAR ups1\nVAR ups1 battery.charge "100"\n');
    });
    const err = await client(server.port)
      .listVar('ups1')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NutConnectionError);
    expect((err as NutConnectionError).code).toBe('EOF');
  });
});

describe('NutClient: connection lifecycle', () => {
  it('reconnects lazily on the next request after a drop', async () => {
    const server = await fakeUpsd((line, conn) => {
      basicHandler(line, conn);
      if (conn.id === 1) conn.socket.end(); // upsd restart, say
    });
    const c = client(server.port);
    const events: string[] = [];
    c.on('connect', () => events.push('connect'));
    c.on('disconnect', () => events.push('disconnect'));
    expect(await c.getVar('ups1', 'ups.status')).toBe('OL');
    await until(() => !c.connected);
    expect(await c.getVar('ups2', 'ups.status')).toBe('OB DISCHRG');
    expect(server.conns).toHaveLength(2);
    expect(events).toEqual(['connect', 'disconnect', 'connect']);
  });

  it('reports a refused connection as NutConnectionError(ECONNREFUSED) and does not retry on its own', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const c = client(port);
    const err = await c.version().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NutConnectionError);
    expect((err as NutConnectionError).code).toBe('ECONNREFUSED');
    expect(c.connected).toBe(false);
  });

  it('sends VER as a keep-alive when idle', async () => {
    const server = await fakeUpsd(basicHandler);
    const c = client(server.port, { keepAliveMs: 100 });
    await c.connect();
    await until(() => server.lines.filter((l) => l === 'VER').length >= 2);
    expect(c.connected).toBe(true);
    expect(new Set(server.lines)).toEqual(new Set(['VER']));
  });

  it('close() rejects pending requests with NutConnectionError(CLOSED) and refuses new ones', async () => {
    const server = await fakeUpsd(() => undefined);
    const c = client(server.port);
    const pending = c.getVar('ups1', 'ups.status').catch((e: unknown) => e);
    await until(() => server.lines.length === 1);
    await c.close();
    const err = await pending;
    expect(err).toBeInstanceOf(NutConnectionError);
    expect((err as NutConnectionError).code).toBe('CLOSED');
    const after = await c.version().catch((e: unknown) => e);
    expect((after as NutConnectionError).code).toBe('CLOSED');
    expect(server.conns).toHaveLength(1);
  });

  it('close() during connect rejects the connect', async () => {
    // A non-routable address keeps the connect pending.
    const c = client(9, { host: '10.255.255.1', connectTimeoutMs: 5000 });
    const pending = c.connect().catch((e: unknown) => e);
    await c.close();
    expect(((await pending) as NutConnectionError).code).toBe('CLOSED');
  });
});

describe('NutClient: argument guard', () => {
  it.each([
    ['a LF-smuggled command', (c: NutClient) => c.getVar('ups1', 'beeper.disable\nINSTCMD ups load.off')],
    ['a CR', (c: NutClient) => c.listVar('ups1\r')],
    ['a NUL', (c: NutClient) => c.listCmd('ups\u00001')],
    ['a name with a space', (c: NutClient) => c.getVar('ups 1', 'ups.status')],
    ['an empty name', (c: NutClient) => c.getVar('', 'ups.status')],
    [
      'a smuggled INSTCMD value',
      (c: NutClient) =>
        c.instcmd('ups1', 'load.off', { username: 'admin', password: 'pw' }, { value: '1\nLOGOUT' }),
    ],
    [
      'a password with a LF',
      (c: NutClient) => c.instcmd('ups1', 'load.off', { username: 'admin', password: 'a\nb' }),
    ],
    ['an empty username', (c: NutClient) => c.instcmd('ups1', 'load.off', { username: '', password: 'pw' })],
  ])('rejects %s with NutArgumentError before sending anything', async (_what, call) => {
    const server = await fakeUpsd(basicHandler);
    const err = await call(client(server.port)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NutArgumentError);
    expect(server.lines).toEqual([]);
  });
});

describe('NutClient: instcmd', () => {
  const auth = { username: 'admin', password: 's3cr3t-pw' };

  it('uses a separate connection: USERNAME, PASSWORD, SET TRACKING, INSTCMD, GET TRACKING, LOGOUT', async () => {
    const server = await fakeUpsd(trackingUpsd(['PENDING', 'PENDING', 'PENDING', 'SUCCESS']));
    const c = client(server.port);
    await c.version(); // the polling connection exists first
    const result = await c.instcmd('ups1', 'load.off', auth, { value: '5' });
    expect(result).toEqual({ outcome: 'success', trackingId: TRACKING_ID });
    expect(server.conns).toHaveLength(2);
    expect(server.conns[0]?.lines).toEqual(['VER']);
    expect(server.conns[1]?.lines).toEqual([
      'USERNAME admin',
      'PASSWORD "s3cr3t-pw"',
      'SET TRACKING ON',
      'INSTCMD ups1 load.off "5"',
      ...Array(4).fill(`GET TRACKING ${TRACKING_ID}`),
      'LOGOUT',
    ]);
    await until(() => server.conns[1]?.socket.closed === true);
    expect(c.connected).toBe(true);
  });

  it('ACCESS-DENIED is typed and the password appears nowhere in the error', async () => {
    const server = await fakeUpsd((line, conn) =>
      conn.send(line.startsWith('INSTCMD') ? 'ERR ACCESS-DENIED\n' : 'OK\n'),
    );
    const err = await client(server.port)
      .instcmd('ups1', 'load.off', auth)
      .catch((e: unknown) => e);
    expect(isNutError(err, 'ACCESS-DENIED')).toBe(true);
    expect((err as NutError).request).toBe('INSTCMD ups1 load.off');
    expect(inspect(err)).not.toContain(auth.password);
  });

  it('an error on PASSWORD names the request as PASSWORD ***', async () => {
    const server = await fakeUpsd((line, conn) =>
      conn.send(line.startsWith('PASSWORD') ? 'ERR INVALID-PASSWORD\n' : 'OK\n'),
    );
    const err = await client(server.port)
      .instcmd('ups1', 'load.off', auth)
      .catch((e: unknown) => e);
    expect(isNutError(err, 'INVALID-PASSWORD')).toBe(true);
    expect((err as NutError).request).toBe('PASSWORD ***');
    expect(inspect(err)).not.toContain(auth.password);
  });

  it('a server echoing the password in garbage does not leak it into the error', async () => {
    const server = await fakeUpsd((line, conn) =>
      conn.send(line.startsWith('PASSWORD') ? `WHAT ${line}\n` : 'OK\n'),
    );
    const err = await client(server.port)
      .instcmd('ups1', 'load.off', auth)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NutProtocolError);
    expect(inspect(err)).not.toContain(auth.password);
    expect(JSON.stringify(err)).not.toContain(auth.password);
  });

  it('a timeout during PASSWORD does not leak the password', async () => {
    const server = await fakeUpsd((line, conn) => {
      if (!line.startsWith('PASSWORD')) conn.send('OK\n');
    });
    const err = await client(server.port, { requestTimeoutMs: 150 })
      .instcmd('ups1', 'load.off', auth)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NutTimeoutError);
    expect((err as NutTimeoutError).request).toBe('PASSWORD ***');
    expect(inspect(err)).not.toContain(auth.password);
  });
});

describe('NutClient: instcmd results through TRACKING', () => {
  const auth = { username: 'admin', password: 's3cr3t-pw' };

  it.each(['FAILED', 'INVALID-ARGUMENT', 'UNKNOWN'])(
    'GET TRACKING answering ERR %s is the result "failed" with that word, then LOGOUT',
    async (code) => {
      const server = await fakeUpsd(trackingUpsd(['PENDING', `ERR ${code}`]));
      const result = await client(server.port).instcmd('ups1', 'beeper.toggle', auth);
      expect(result).toEqual({ outcome: 'failed', trackingId: TRACKING_ID, code });
      expect(server.lines.slice(-3)).toEqual([
        `GET TRACKING ${TRACKING_ID}`,
        `GET TRACKING ${TRACKING_ID}`,
        'LOGOUT',
      ]);
    },
  );

  it('a result still PENDING at the limit is "timeout", and nothing is sent after the session ends', async () => {
    const server = await fakeUpsd(trackingUpsd(['PENDING']));
    const c = client(server.port);
    const result = await c.instcmd('ups1', 'beeper.toggle', auth, { resultTimeoutMs: 300 });
    expect(result).toMatchObject({ outcome: 'timeout', trackingId: TRACKING_ID });
    expect((result as { waitedMs: number }).waitedMs).toBeGreaterThanOrEqual(300);
    expect(server.lines.at(-1)).toBe('LOGOUT');
    await until(() => server.conns[0]?.socket.closed === true);
    const sent = server.lines.length;
    await sleep(700); // longer than the poll delay: a leaked poll loop would show up here
    expect(server.lines).toHaveLength(sent);
  });

  it.each([
    ['garbage', 'WHAT IS THIS'],
    ['a second word after SUCCESS', 'SUCCESS NOW'],
    ['OK instead of a status', 'OK'],
  ])('%s in reply to GET TRACKING is a protocol error that drops the session', async (_what, reply) => {
    const server = await fakeUpsd(trackingUpsd(['PENDING', reply]));
    const err = await client(server.port)
      .instcmd('ups1', 'beeper.toggle', auth)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NutProtocolError);
    expect((err as NutProtocolError).request).toBe(`GET TRACKING ${TRACKING_ID}`);
    await until(() => server.conns[0]?.socket.closed === true);
    expect(server.lines).not.toContain('LOGOUT');
  });

  it('a connection closed mid-poll rejects with NutConnectionError', async () => {
    const server = await fakeUpsd(trackingUpsd(['PENDING', 'PENDING', 'CLOSE']));
    const err = await client(server.port)
      .instcmd('ups1', 'beeper.toggle', auth)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NutConnectionError);
    expect(['EOF', 'ECONNRESET']).toContain((err as NutConnectionError).code);
  });

  it.each([
    ['a bare OK (upsd did not track it)', 'OK'],
    ['a tracking id with a quote', 'OK TRACKING ab"c'],
    ['a tracking id and more', `OK TRACKING ${TRACKING_ID} extra`],
  ])('INSTCMD answered with %s is a protocol error, and no GET TRACKING is sent', async (_what, reply) => {
    const server = await fakeUpsd(trackingUpsd(['SUCCESS'], { INSTCMD: reply }));
    const err = await client(server.port)
      .instcmd('ups1', 'beeper.toggle', auth)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NutProtocolError);
    expect(server.lines.some((l) => l.startsWith('GET TRACKING'))).toBe(false);
  });

  it('upsd refusing SET TRACKING: nothing is sent unless an untracked command is allowed', async () => {
    const server = await fakeUpsd(trackingUpsd(['SUCCESS'], { 'SET TRACKING': 'ERR UNKNOWN-COMMAND' }));
    const refused = await client(server.port).instcmd('ups1', 'beeper.toggle', auth);
    expect(refused).toEqual({ outcome: 'tracking-refused', code: 'UNKNOWN-COMMAND' });
    expect(server.lines.some((l) => l.startsWith('INSTCMD'))).toBe(false);

    const untracked = await client(server.port).instcmd('ups1', 'beeper.toggle', auth, {
      allowUntracked: true,
    });
    expect(untracked).toEqual({ outcome: 'untracked', trackingRefused: 'UNKNOWN-COMMAND' });
    expect(server.conns[1]?.lines).toEqual([
      'USERNAME admin',
      'PASSWORD "s3cr3t-pw"',
      'SET TRACKING ON',
      'INSTCMD ups1 beeper.toggle',
      'LOGOUT',
    ]);
  });

  it('upsd refusing the command itself (ERR CMD-NOT-SUPPORTED) rejects with that NutError', async () => {
    const server = await fakeUpsd(trackingUpsd(['SUCCESS'], { INSTCMD: 'ERR CMD-NOT-SUPPORTED' }));
    const err = await client(server.port)
      .instcmd('ups1', 'beeper.toggle', auth)
      .catch((e: unknown) => e);
    expect(isNutError(err, 'CMD-NOT-SUPPORTED')).toBe(true);
    expect((err as NutError).request).toBe('INSTCMD ups1 beeper.toggle');
  });
});
