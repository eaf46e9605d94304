/**
 * ManagedProcess.stop() with a wake-up, against a real child process that behaves like a NUT 2.8.1+ driver: SIGTERM
 * only sets a flag, which its main loop checks when its socket wait returns (a connection, or its own timer).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { knock } from '../../src/nut/knock.js';
import { ManagedProcess } from '../../src/supervisor/managedProcess.js';
import { until } from '../fixtures/proc.js';

const DRIVER_LIKE = `
const net = require('node:net');
let exitFlag = false;
process.on('SIGTERM', () => { exitFlag = true; });
const server = net.createServer((c) => {
  c.destroy();
  if (exitFlag) { console.log('exiting: woken by a connection'); process.exit(0); }
});
server.listen(process.argv[1], () => console.log('listening'));
// The end of its "poll interval": long, so that only a wake-up makes it exit soon.
setTimeout(() => { console.log(exitFlag ? 'exiting: at the end of the interval' : 'exiting: never asked'); process.exit(0); }, 20000);
`;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mpwake-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function start(lines: string[]): { proc: ManagedProcess; path: string } {
  const path = join(dir, 'drv.sock');
  const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s).msg) });
  const proc = new ManagedProcess({
    label: 'driver-like',
    file: process.execPath,
    args: ['-e', DRIVER_LIKE, path],
    env: { PATH: process.env.PATH ?? '' },
    logger,
  });
  proc.start();
  return { proc, path };
}

describe('ManagedProcess.stop with a wake-up', () => {
  it('knocks on the socket of a process that has not exited right after SIGTERM, and it exits gracefully', async () => {
    const lines: string[] = [];
    const { proc, path } = start(lines);
    await until(() => lines.includes('listening'), 10_000);
    let woke = 0;
    const { forced, exit } = await proc.stop(10_000, async () => {
      woke++;
      await knock(path);
    });
    expect(woke).toBe(1);
    expect(forced).toBe(false);
    expect(exit.code).toBe(0);
    await until(() => lines.some((l) => l.startsWith('exiting')), 5000);
    expect(lines).toContain('exiting: woken by a connection');
  });

  it('does not call the wake-up for a process that exits on SIGTERM at once', async () => {
    const proc = new ManagedProcess({
      label: 'sleeper',
      file: '/bin/sleep',
      args: ['30'],
      env: { PATH: process.env.PATH ?? '' },
      logger: pino({ level: 'silent' }),
    });
    proc.start();
    let woke = 0;
    const { forced, exit } = await proc.stop(10_000, async () => {
      woke++;
    });
    expect({ woke, forced, signal: exit.signal }).toEqual({ woke: 0, forced: false, signal: 'SIGTERM' });
  });

  it('a knock on a socket nobody serves is over without an error', async () => {
    await expect(knock(join(dir, 'nobody.sock'))).resolves.toBeUndefined();
  });
});
