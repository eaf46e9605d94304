// `npm run demo`: a simulated CyberPower CP1500PFCLCD on NUT's real usbhid-ups driver (test/fixtures/usbSim: a
// stand-in libusb loaded into the driver alone), under nut-mqtt, in a private temp folder on loopback, with a
// private Mosquitto broker, and a live view of what reaches MQTT. The UPS goes on battery, runs low, gets its mains
// back; then one of its USB transfers wedges the driver in the "kernel", and you watch the agent notice, SIGKILL
// it, reset the USB device and bring the data back. `npm run demo -- --broker mqtt://host:1883` publishes to your own broker instead (the UPS then
// appears in your Home Assistant). Ctrl-C stops everything it started.
import { join } from 'node:path';
import { AgentProcess } from '../test/fixtures/agentCli.js';
import { startMosquitto } from '../test/fixtures/mosquitto.js';
import { observe, type Received } from '../test/fixtures/mqttObserver.js';
import { createNutLab } from '../test/fixtures/nutLab.js';
import { within } from '../test/fixtures/proc.js';
import { lowBattery, mainsBack, onBattery } from '../test/fixtures/usbSim/cyberPowerHid.js';
import type { SimulatedUsbUps } from '../test/fixtures/usbSim/usbUps.js';

const BASE = 'nut';
const UPS = 'demo';

/** What happens to the simulated UPS, seconds after the start. */
const SCRIPT: ReadonlyArray<{ at: number; say: string; act: (ups: SimulatedUsbUps) => Promise<void> }> = [
  { at: 12, say: 'the mains go away', act: (u) => u.set(onBattery(92, 1900)) },
  { at: 18, say: 'the battery drains', act: (u) => u.set(onBattery(41, 700)) },
  { at: 24, say: 'the battery runs low', act: (u) => u.set(lowBattery(9, 150)) },
  { at: 30, say: 'the mains are back', act: (u) => u.set({ ...mainsBack(), charge: 11, runtime: 200 }) },
  {
    at: 38,
    say: 'a USB transfer wedges in the kernel (the driver ignores SIGTERM until SIGKILL or a USB reset)',
    act: (u) => u.setFault('wedge'),
  },
];

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
    upses: [
      {
        name: UPS,
        usb: { serial: 'DEMO000001' },
        desc: 'Simulated CyberPower CP1500PFCLCD',
        options: { vendorid: '0764', productid: '0501' },
      },
    ],
  });
  const ups = lab.usbUps(UPS);
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
  console.log(
    `  usbhid-ups on a simulated USB bus (${lab.usb?.dir}); the script: ${SCRIPT.map((s) => `${s.at} s ${s.say.split(' (')[0]}`).join(', ')}`,
  );
  console.log('  Ctrl-C stops everything\n');

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
      if (entry.out && !/Using subdriver/.test(String(entry.msg))) return; // NUT's own chatter
      if (
        (entry.level as number) >= 40 ||
        /recover|hung|first fresh|exited|started|state |USB|subdriver/.test(String(entry.msg))
      )
        say('agent', String(entry.msg));
    },
  });
  // Not awaited: a --broker that is down must not hold up the demo (the agent retries it too).
  const viewer = observe({ url: brokerUrl }, [`${BASE}/#`]).then((obs) => {
    obs.listen(printer());
    return obs;
  });

  const timers = SCRIPT.map(({ at, say: what, act }) =>
    setTimeout(() => {
      say('demo', `>>> ${what}`);
      void act(ups);
    }, at * 1000),
  );

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const t of timers) clearTimeout(t);
    console.log('\nstopping the agent (it stops upsd and the driver)…');
    void agent.stop(15_000);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  const exit = await agent.exited;
  for (const t of timers) clearTimeout(t);
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
