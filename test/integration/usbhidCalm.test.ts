// A long calm run of the real usbhid-ups on the simulated CyberPower: power events at random moments end the
// driver's updates off-beat (its interrupt pipe answers at once), and the agent must not call a single false hang.
// bench:usb runs the same for 30 minutes and reports false hangs per hour.
import { describe, expect, it } from 'vitest';
import { startMqttAgent } from '../fixtures/mqttAgent.js';
import { sleep } from '../fixtures/nutLab.js';
import { ON_NUT } from '../fixtures/nutVersion.js';
import { Rng } from '../fixtures/prng.js';
import { mainsBack, onBattery } from '../fixtures/usbSim/cyberPowerHid.js';

const CALM_MS = Number(process.env.USB_CALM_MS ?? 5 * 60_000);

describe(`usbhid-ups, a calm run of ${CALM_MS / 60_000} min, ${ON_NUT}`, () => {
  it(
    'no false hang, no restart, while the UPS comes and goes off the mains at random moments',
    async () => {
      // The production timings: the rhythm logic and the learned PING timeout as users run them.
      const setup = await startMqttAgent({
        upses: [{ name: 'cp', usb: {}, options: { vendorid: '0764', productid: '0501' } }],
        timings: { pollInterval: 2000, staleGrace: 1000, backoffInitial: 2000, backoffMax: 60_000 },
      });
      try {
        const { agent, lab } = setup;
        await agent.waitForEvent('ready', (e) => e.ups === 'cp');
        const ups = lab.usbUps('cp');
        const rng = new Rng(20261204);
        const end = Date.now() + CALM_MS;
        let changes = 0;
        while (Date.now() < end) {
          await sleep(500 + rng.next() * 6000);
          changes++;
          const charge = 50 + Math.round(rng.next() * 50);
          await ups.set(changes % 2 === 1 ? onBattery(charge, charge * 20) : { ...mainsBack(), charge });
        }
        const statusChanges = agent.eventsOf('status-changed', (e) => e.ups === 'cp').length;
        console.log(
          `calm usbhid-ups on ${ON_NUT}: ${CALM_MS / 60_000} min, ${changes} power changes, ${statusChanges} status changes seen, ${agent.eventsOf('hung').length} hangs`,
        );
        expect(agent.eventsOf('hung')).toEqual([]);
        expect(agent.eventsOf('recovering')).toEqual([]);
        expect(statusChanges).toBeGreaterThan(changes / 2);
      } finally {
        await setup.stop();
      }
    },
    CALM_MS + 120_000,
  );
});
