// `npm run demo`: a simulated CyberPower UPS under nut-mqtt, in a private temp folder on loopback, with a private
// Mosquitto broker, and a live view of what reaches MQTT. NUT's dummy-ups plays a script (online → on battery →
// low battery → online); after ~20 s the demo hangs the driver (SIGSTOP) so you can watch the agent notice and
// recover it. `npm run demo -- --broker mqtt://host:1883` publishes to your own broker instead (the UPS then
// appears in your Home Assistant). Ctrl-C stops everything it started.
import { join } from 'node:path';
import { AgentProcess } from '../test/fixtures/agentCli.js';
import { startMosquitto } from '../test/fixtures/mosquitto.js';
import { observe, type Received } from '../test/fixtures/mqttObserver.js';
import { createNutLab } from '../test/fixtures/nutLab.js';
import { within } from '../test/fixtures/proc.js';

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

/** Prints what reaches MQTT, readably: availability, status changes, supervisor events. */
function printer(): (m: Received) => void {
  let lastLine = '';
  return ({ topic, text }) => {
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
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const lab = await createNutLab({
    upses: [{ name: UPS, seq: SEQUENCE, desc: 'Simulated CyberPower CP1500PFCLCD' }],
  });
  // Own process groups: Ctrl-C must reach only this script, which stops the agent first (so it can still publish
  // `offline`) and the broker last.
  const broker = args.broker ? undefined : await startMosquitto({ detached: true });
  const brokerUrl = args.broker ?? (broker?.url as string);
  const { hostname, port } = new URL(brokerUrl);

  console.log(`nut-mqtt demo — NUT config in ${lab.confPath}`);
  console.log(
    `  upsd (port 3493's stand-in): 127.0.0.1:${lab.port}   try: upsc ${UPS}@127.0.0.1:${lab.port}`,
  );
  console.log(
    `  MQTT: ${brokerUrl.replace(/\/\/[^@/]*@/, '//***@')}   try: mosquitto_sub -h ${hostname} -p ${port || 1883} -t '${BASE}/#' -v`,
  );
  console.log(
    `  restart by hand: mosquitto_pub -h ${hostname} -p ${port || 1883} -t ${BASE}/${UPS}/command -m restart`,
  );
  console.log(`  a driver hang is injected ${HANG_AFTER_MS / 1000} s after start; Ctrl-C stops everything\n`);

  let driverPid: number | undefined;
  const agent = new AgentProcess({
    env: { ...lab.env, NUT_USER: 'root', LOG_LEVEL: 'info', MQTT_URL: brokerUrl, MQTT_BASE_TOPIC: BASE },
    logFile: join(lab.dir, 'agent.log'),
    detached: true,
    onLine: (line) => {
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
      )
        say('agent', String(entry.msg));
    },
  });
  // Not awaited: a --broker that is down must not hold up the demo (the agent retries it too).
  const viewer = observe({ url: brokerUrl }, [`${BASE}/#`]).then((obs) => {
    obs.listen(printer());
    return obs;
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
    void agent.stop(15_000);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  const exit = await agent.exited;
  clearTimeout(hang);
  if (exit.code !== 0) console.log(agent.logTail(10));
  await within(
    viewer.then((obs) => obs.stop()),
    1000,
  );
  await broker?.stop();
  await lab.stop();
  console.log(`agent exited with code ${exit.code}; broker stopped; removed ${lab.dir}`);
  process.exit(exit.code ?? 1);
}

await main();
