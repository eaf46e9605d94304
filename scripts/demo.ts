// `npm run demo`: a simulated CyberPower UPS under nut-mqtt, in a private temp folder on loopback, with a private
// Mosquitto broker, and a live view of what reaches MQTT. NUT's dummy-ups plays a script (online → on battery →
// low battery → online); after ~20 s the demo hangs the driver (SIGSTOP) so you can watch the agent notice and
// recover it. `npm run demo -- --broker mqtt://host:1883` publishes to your own broker instead (the UPS then
// appears in your Home Assistant). Ctrl-C stops everything it started.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import mqtt from 'mqtt';

const HANG_AFTER_MS = 20_000;
const BASE = 'nut';
const UPS = 'demo';

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

/** Should this script die without its orderly stop, take its children along. */
function killOnExit(child: ResultPromise): void {
  process.once('exit', () => {
    if (child.exitCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

const now = () => new Date().toISOString().slice(11, 23);
const say = (who: string, text: string) => console.log(`${now()}  ${who.padEnd(6)} ${text}`);

function parseArgs(argv: string[]): { broker?: string } {
  const i = argv.indexOf('--broker');
  if (i >= 0) {
    const url = argv[i + 1];
    if (!url || !/^(mqtts?|wss?):\/\//.test(url)) {
      console.error('usage: npm run demo -- [--broker mqtt://host:1883]');
      process.exit(2);
    }
    return { broker: url };
  }
  return {};
}

async function startBroker(dir: string): Promise<{ url: string; process: ResultPromise }> {
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(
    conf,
    `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\nlog_dest none\n`,
  );
  // Own process group, no execa cleanup: Ctrl-C must reach only this script, which stops the agent first (so it
  // can still publish `offline`) and the broker last.
  const broker = execa('mosquitto', ['-c', conf], {
    reject: false,
    stdin: 'ignore',
    detached: true,
    cleanup: false,
  });
  killOnExit(broker);
  const url = `mqtt://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const probe = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 500 });
      probe.once('connect', () => resolve(true));
      probe.once('error', () => resolve(false));
      probe.once('close', () => resolve(false));
    }).catch(() => false);
    if (ok) return { url, process: broker };
    await sleep(100);
  }
  throw new Error('the private Mosquitto broker did not start');
}

/** Prints what reaches MQTT, readably: availability, status changes, supervisor events. */
function watchMqtt(url: string): mqtt.MqttClient {
  const client = mqtt.connect(url, { clientId: `nut-mqtt-demo-viewer-${process.pid}` });
  let lastLine = '';
  client.on('connect', () => client.subscribe([`${BASE}/#`]));
  client.on('message', (topic, payload) => {
    const text = payload.toString();
    if (topic === `${BASE}/bridge/state`) say('mqtt', `bridge ${text}`);
    else if (topic === `${BASE}/${UPS}/availability`) say('mqtt', `${UPS} availability ${text}`);
    else if (topic === `${BASE}/${UPS}/event` || topic === `${BASE}/bridge/event`) {
      const e = JSON.parse(text) as Record<string, unknown>;
      const details = Object.entries(e)
        .filter(([k]) => !['type', 'ups', 'at'].includes(k))
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      say('event', `${String(e.type)} ${details}`);
    } else if (topic === `${BASE}/${UPS}`) {
      const s = JSON.parse(text) as Record<string, unknown> & { supervisor?: { state?: string } };
      const parts = [String(s.status_label)];
      if (s['battery.charge'] !== undefined) parts.push(`battery ${String(s['battery.charge'])} %`);
      if (s['battery.runtime'] !== undefined) parts.push(`runtime ${String(s['battery.runtime'])} s`);
      parts.push(`supervisor ${s.supervisor?.state}`);
      const line = parts.join(', ');
      if (line !== lastLine) say('state', line);
      lastLine = line;
    }
  });
  return client;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = await mkdtemp(join(tmpdir(), 'nm-demo-'));
  const etc = join(dir, 'etc');
  const state = join(dir, 'st');
  await mkdir(etc);
  await mkdir(state);
  const upsdPort = await freePort();
  await writeFile(
    join(etc, 'ups.conf'),
    `user = root\n\n[${UPS}]\n  driver = dummy-ups\n  port = ${UPS}.seq\n  desc = "Simulated CyberPower CP1500PFCLCD"\n`,
  );
  await writeFile(join(etc, 'upsd.conf'), `LISTEN 127.0.0.1 ${upsdPort}\n`, { mode: 0o600 });
  await writeFile(join(etc, 'upsd.users'), '', { mode: 0o600 });
  await writeFile(join(etc, `${UPS}.seq`), SEQUENCE);

  const broker = args.broker ? undefined : await startBroker(dir);
  const brokerUrl = args.broker ?? (broker?.url as string);

  console.log(`nut-mqtt demo — NUT config in ${etc}`);
  console.log(
    `  upsd (port 3493's stand-in): 127.0.0.1:${upsdPort}   try: upsc ${UPS}@127.0.0.1:${upsdPort}`,
  );
  console.log(
    `  MQTT: ${brokerUrl.replace(/\/\/[^@/]*@/, '//***@')}   try: mosquitto_sub -h ${new URL(brokerUrl).hostname} -p ${new URL(brokerUrl).port || 1883} -t '${BASE}/#' -v`,
  );
  console.log(
    `  restart by hand: mosquitto_pub -h ${new URL(brokerUrl).hostname} -p ${new URL(brokerUrl).port || 1883} -t ${BASE}/${UPS}/command -m restart`,
  );
  console.log(`  a driver hang is injected ${HANG_AFTER_MS / 1000} s after start; Ctrl-C stops everything\n`);

  const agent = execa('node', [join(import.meta.dirname, '..', 'dist', 'cli.js'), 'run'], {
    env: {
      NUT_CONFPATH: etc,
      NUT_STATEPATH: state,
      NUT_ALTPIDPATH: state,
      NUT_USER: 'root',
      LOG_LEVEL: 'info',
      MQTT_URL: brokerUrl,
      MQTT_BASE_TOPIC: BASE,
    },
    reject: false,
    stdin: 'ignore',
    stderr: 'inherit',
    forceKillAfterDelay: 15_000,
    detached: true,
    cleanup: false,
  });
  killOnExit(agent);
  const viewer = watchMqtt(brokerUrl);

  let driverPid: number | undefined;
  createInterface({ input: agent.stdout }).on('line', (line) => {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      console.log(line);
      return;
    }
    if (entry.msg === 'started dummy-ups' && typeof entry.childPid === 'number') driverPid = entry.childPid;
    if (entry.out) return; // NUT's own chatter
    if (
      (entry.level as number) >= 40 ||
      /recover|hung|first fresh|exited|started|state /.test(String(entry.msg))
    ) {
      say('agent', String(entry.msg));
    }
  });

  const hang = setTimeout(() => {
    if (driverPid === undefined) return;
    say('demo', `>>> injecting a driver hang: kill -STOP ${driverPid}`);
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
  await viewer.endAsync();
  broker?.process.kill('SIGTERM');
  await broker?.process;
  await rm(dir, { recursive: true, force: true });
  console.log(`agent exited with code ${result.exitCode}; broker stopped; removed ${dir}`);
  process.exitCode = result.exitCode ?? 1;
}

await main();
