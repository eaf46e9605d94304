// `npm run demo`: a simulated CyberPower UPS under nut-mqtt, in a private temp folder on loopback.
// NUT's dummy-ups plays a script (online → on battery → low battery → online); after ~20 s the demo hangs the
// driver (SIGSTOP) so you can watch the agent notice and recover it. Ctrl-C stops everything it started.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { execa } from 'execa';

const HANG_AFTER_MS = 20_000;

const SEQUENCE = `# CyberPower CP1500PFCLCD, simulated
device.mfr: CPS
device.model: CP1500PFCLCD
device.serial: DEMO000001
device.type: ups
ups.mfr: CPS
ups.model: CP1500PFCLCD
battery.charge: 100
battery.runtime: 2370
battery.voltage: 24.0
input.voltage: 121.0
output.voltage: 121.0
ups.load: 18
ups.realpower.nominal: 900
ups.status: OL
TIMER 15
input.voltage: 0.0
battery.charge: 64
battery.runtime: 1250
ups.status: OB DISCHRG
TIMER 10
battery.charge: 8
battery.runtime: 180
ups.status: OB DISCHRG LB
TIMER 10
`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function time(iso: unknown): string {
  return typeof iso === 'string' ? iso.slice(11, 23) : new Date().toISOString().slice(11, 23);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'nm-demo-'));
  const etc = join(dir, 'etc');
  const state = join(dir, 'st');
  await execa('mkdir', ['-p', etc, state]);
  const port = await freePort();
  await writeFile(
    join(etc, 'ups.conf'),
    'user = root\n\n[demo]\n  driver = dummy-ups\n  port = demo.seq\n  desc = "Simulated CyberPower CP1500PFCLCD"\n',
  );
  await writeFile(join(etc, 'upsd.conf'), `LISTEN 127.0.0.1 ${port}\n`, { mode: 0o600 });
  await writeFile(join(etc, 'upsd.users'), '', { mode: 0o600 });
  await writeFile(join(etc, 'demo.seq'), SEQUENCE);

  console.log(`nut-mqtt demo — NUT config in ${etc}, upsd on 127.0.0.1:${port}`);
  console.log(`  try in another shell: upsc demo@127.0.0.1:${port}`);
  console.log(`  a driver hang is injected ${HANG_AFTER_MS / 1000} s after start; Ctrl-C to stop\n`);

  const agent = execa('node', [join(import.meta.dirname, '..', 'dist', 'cli.js'), 'run'], {
    env: {
      NUT_CONFPATH: etc,
      NUT_STATEPATH: state,
      NUT_ALTPIDPATH: state,
      NUT_USER: 'root',
      LOG_LEVEL: 'info',
    },
    reject: false,
    stdin: 'ignore',
    stderr: 'inherit',
    forceKillAfterDelay: 10_000,
  });

  let driverPid: number | undefined;
  const lines = createInterface({ input: agent.stdout });
  lines.on('line', (line) => {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      console.log(line);
      return;
    }
    if (entry.msg === 'started dummy-ups' && typeof entry.childPid === 'number') driverPid = entry.childPid;
    if (entry.out) return; // NUT's own chatter stays in the agent's log level debug
    const who = typeof entry.ups === 'string' ? entry.ups.padEnd(6) : 'agent ';
    console.log(`${time(entry.time)}  ${who} ${String(entry.msg)}`);
  });

  const hang = setTimeout(() => {
    if (driverPid === undefined) return;
    console.log(`${time(undefined)}  demo   >>> injecting a driver hang: kill -STOP ${driverPid}`);
    process.kill(driverPid, 'SIGSTOP');
  }, HANG_AFTER_MS);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    clearTimeout(hang);
    console.log('\nstopping the agent (it stops upsd and the driver)…');
    agent.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  const result = await agent;
  clearTimeout(hang);
  await rm(dir, { recursive: true, force: true });
  console.log(`agent exited with code ${result.exitCode}; removed ${dir}`);
  process.exitCode = result.exitCode ?? 1;
}

await main();
