// npm run bench:usb [-- --trials 3 --faults wedge,frozen,… --calm-min 30 --nut 2.8.1]
//
// The real usbhid-ups on the simulated CyberPower (test/fixtures/usbSim), nut-mqtt and the naive loop in one run,
// each on its own lab. Per USB fault: the contender's detection time and the fault → fresh time (an independent
// NUT client sees upsd serve what the device now says: `OB DISCHRG`, set right after the fault; for a held or
// unplugged device, fresh after it is free again is timed from that moment too). Then a calm run of both side by
// side: false hangs (nut-mqtt) and needless restarts (naive) per hour while the UPS goes on and off the mains at
// random moments, the driver's CPU, and AC lost → what the contender's subscribers see.

import { startMosquitto } from '../test/fixtures/mosquitto.js';
import { Rng } from '../test/fixtures/prng.js';
import { cpuMs } from '../test/fixtures/proc.js';
import { fmtMs, max, median, printTable } from '../test/fixtures/stats.js';
import { UpsdObserver } from '../test/fixtures/upsdObserver.js';
import { mainsBack, onBattery } from '../test/fixtures/usbSim/cyberPowerHid.js';
import { runBesideRequestedNut } from './lib/nutRelease.js';
import { checkFlags, intFlag, onCleanup, printHeader, runBench, stringFlag, took } from './lib/run.js';
import { startAgentContender, startNaiveContender, UPS, type UsbContender } from './usbLib/contenders.js';
import { USB_FAULTS, type UsbFaultCase } from './usbLib/faults.js';

checkFlags(['trials', 'faults', 'calm-min', 'cap', 'nut', 'seed']);
const inLab = await runBesideRequestedNut('bench/usb.ts');
if (inLab !== undefined) process.exit(inLab);

const started = Date.now();
const trials = intFlag('trials', 3, 1, 50);
const calmMin = intFlag('calm-min', 30, 0, 24 * 60);
const capMs = intFlag('cap', 60, 10, 600) * 1000;
const seed = intFlag('seed', 20261204, 1, 2 ** 31);
const faultNames = stringFlag('faults', Object.keys(USB_FAULTS).join(',')).split(',');
for (const f of faultNames) if (!(f in USB_FAULTS)) throw new Error(`--faults: unknown fault ${f}`);

interface Trial {
  detectMs?: number;
  freshMs?: number;
  /** From the repair (device free / plugged in again), where the fault has one. */
  afterRepairMs?: number;
}

/** Polls upsd (one NUT connection, every 100 ms) until it serves `status` for the UPS; the time, or undefined. */
async function upsdServes(
  observer: UpsdObserver,
  status: string,
  deadline: number,
): Promise<number | undefined> {
  while (Date.now() < deadline) {
    const s = await observer.read(UPS);
    if (s.fresh && s.value === status) return s.t;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

async function runTrial(c: UsbContender, fault: UsbFaultCase, rng: Rng): Promise<Trial> {
  const observer = new UpsdObserver(c.lab.port);
  const unregister = onCleanup('observer', () => observer.close());
  try {
    await new Promise((r) => setTimeout(r, 3000 + rng.next() * 2000));
    const faultAt = Date.now();
    await fault.inject(c.ups);
    await c.ups.set(onBattery(40 + rng.int(0, 40), 900));
    let repairAt: number | undefined;
    if (fault.repairAfterMs !== undefined) {
      await new Promise((r) => setTimeout(r, fault.repairAfterMs));
      repairAt = Date.now();
      await fault.repair?.(c.ups);
    }
    const freshAt = await upsdServes(observer, 'OB DISCHRG', faultAt + capMs + (fault.repairAfterMs ?? 0));
    const detectedAt = c.detectedAt(faultAt);
    return {
      ...(detectedAt !== undefined && detectedAt < (freshAt ?? Number.POSITIVE_INFINITY)
        ? { detectMs: detectedAt - faultAt }
        : {}),
      ...(freshAt !== undefined ? { freshMs: freshAt - faultAt } : {}),
      ...(freshAt !== undefined && repairAt !== undefined ? { afterRepairMs: freshAt - repairAt } : {}),
    };
  } finally {
    await observer.close();
    unregister();
  }
}

const fmt = (values: (number | undefined)[], n: number): string => {
  const got = values.filter((v): v is number => v !== undefined);
  if (got.length === 0) return n > 0 ? 'never' : '–';
  const m = `${fmtMs(median(got))} (max ${fmtMs(max(got))})`;
  return got.length < n ? `${m}, ${n - got.length}/${n} never` : m;
};

await runBench(async () => {
  await printHeader('bench:usb: usbhid-ups on a simulated CyberPower USB UPS, nut-mqtt vs the naive loop');
  process.stdout.write(
    `settings ${trials} trial(s) per fault and contender, cap ${capMs / 1000} s, seed ${seed}, calm ${calmMin} min; pollinterval 2 (usbhid-ups default), upsd MAXAGE default\n`,
  );
  const broker = await startMosquitto();
  onCleanup('broker', () => broker.stop());
  const rng = new Rng(seed);
  const rows: string[][] = [];
  for (const name of faultNames) {
    const fault = USB_FAULTS[name] as UsbFaultCase;
    for (const kind of ['nut-mqtt', 'naive'] as const) {
      const results: Trial[] = [];
      for (let i = 0; i < trials; i++) {
        const c =
          kind === 'nut-mqtt'
            ? await startAgentContender(fault.options ?? {}, broker)
            : await startNaiveContender(fault.options ?? {});
        try {
          results.push(await runTrial(c, fault, rng));
        } finally {
          await c.stop();
        }
      }
      const row = [
        name,
        kind,
        fmt(
          results.map((r) => r.detectMs),
          trials,
        ),
        fmt(
          results.map((r) => r.freshMs),
          trials,
        ),
        fault.repairAfterMs === undefined
          ? '–'
          : fmt(
              results.map((r) => r.afterRepairMs),
              trials,
            ),
      ];
      rows.push(row);
      process.stdout.write(`  ${row.join(' | ')}\n`);
    }
  }
  printTable(
    'Per fault (median, max over the trials; "never": not within the cap)',
    ['fault', 'contender', 'detection', 'fault → fresh', 'free again → fresh'],
    rows,
  );

  if (calmMin > 0) {
    const calm = await Promise.all([startAgentContender({}, broker), startNaiveContender({})]);
    const since = Date.now();
    const cpu0 = calm.map((c) => ({ pid: c.driverPid(), ms: cpuMs(c.driverPid() ?? 0) ?? 0 }));
    const latencies: number[][] = [[], []];
    let changes = 0;
    const end = since + calmMin * 60_000;
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, 1000 + rng.next() * 8000));
      changes++;
      const lost = changes % 2 === 1;
      const at = Date.now();
      await Promise.all(
        calm.map(async (c, i) => {
          await c.ups.set(lost ? onBattery(60 + rng.int(0, 30), 1200) : mainsBack());
          const seen = await c.sawStatus(lost ? 'OB DISCHRG' : 'OL CHRG', at);
          if (seen !== undefined && lost) latencies[i]?.push(seen - at);
        }),
      );
    }
    const seconds = (Date.now() - since) / 1000;
    printTable(
      `Calm run: ${calmMin} min, ${changes} mains changes at random moments (both contenders side by side)`,
      ['contender', 'false hangs / restarts per hour', 'driver CPU', 'AC lost → seen (median, max)'],
      calm.map((c, i) => {
        const pid = c.driverPid();
        const samePid = pid === cpu0[i]?.pid;
        const cpu = samePid && pid ? ((cpuMs(pid) ?? 0) - (cpu0[i]?.ms ?? 0)) / 10 / seconds : undefined;
        const l = latencies[i] ?? [];
        return [
          c.name,
          ((c.alarms(since) * 3600) / seconds).toFixed(1),
          cpu === undefined ? 'driver restarted' : `${cpu.toFixed(2)} % of a core`,
          `${fmtMs(median(l))}, ${fmtMs(max(l))} (${c.name === 'nut-mqtt' ? 'on MQTT' : 'its upsc poll'})`,
        ];
      }),
    );
    for (const c of calm)
      for (const line of c.alarmDetails(since)) process.stdout.write(`  ${c.name}: ${line}\n`);
    for (const c of calm) await c.stop();
  }
  process.stdout.write(`\n${took('bench:usb', started)}\n`);
});
