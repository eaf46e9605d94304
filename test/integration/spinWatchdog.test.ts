// The spinning-driver watchdog against a real NUT driver made to spin the way users' do: a second client connects
// to the driver's unix socket and closes. NUT 2.8.0–2.8.2 ignore read()==0 on a socket client and spin on the dead
// connection (~50 % of a core here) while their data stays fresh; 2.8.3+ reap it, so there is nothing to show.
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type CpuSample, cpuShareBetween } from '../../src/supervisor/cpuSpin.js';
import { clockTicksPerSecond, readCpuSample } from '../../src/supervisor/procCpu.js';
import { type AgentUnderTest, startAgent } from '../fixtures/agent.js';
import { createNutLab, processAlive, sleep } from '../fixtures/nutLab.js';
import { NUT_VERSION, ON_NUT } from '../fixtures/nutVersion.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** NUT 2.8.3 reaps a socket client that closes (commit 2c2addd8a): its drivers cannot be made to spin this way. */
const reapsClients = (() => {
  const [major = 0, minor = 0, patch = 0] = NUT_VERSION.split(/[.~+-]/).map(Number);
  return major > 2 || (major === 2 && (minor > 8 || (minor === 8 && patch >= 3)));
})();

/** Share of a core a process used over `ms`, measured from /proc like the agent does. */
async function cpuShareOver(pid: number, ms: number): Promise<number> {
  const hz = await clockTicksPerSecond();
  const a = (await readCpuSample(pid, Date.now)) as CpuSample;
  await sleep(ms);
  const b = (await readCpuSample(pid, Date.now)) as CpuSample;
  return cpuShareBetween(a, b, hz) ?? Number.NaN;
}

/** Connects to a driver's socket and closes without a word, as a one-shot probe or a restarted upsd does. */
function connectAndClose(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // destroy(), not end(): a 2.8.0 driver never closes its side, so a half-closed socket would never be 'close'd.
    const socket = connect(path, () => {
      socket.once('close', () => resolve());
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

describe.skipIf(reapsClients)(`a driver that spins after a socket client disconnects, ${ON_NUT}`, () => {
  it('is detected, reported with its CPU share, restarted (reason spinning), and quiet afterwards; its neighbour is left alone', async () => {
    const lab = await createNutLab({ upses: [{ name: 'spin' }, { name: 'calm' }] });
    cleanups.push(() => lab.stop());
    const agent: AgentUnderTest = await startAgent(lab, {
      timings: { spinCpuShare: 0.2, spinDuration: 3000 },
    });
    cleanups.push(async () => {
      const pids = agent.startedPids();
      await agent.stop();
      expect(pids.filter(processAlive)).toEqual([]);
    });
    for (const ups of ['spin', 'calm']) await agent.waitForEvent('ready', (e) => e.ups === ups);
    const pid = agent.driverPid('spin') as number;
    const before = await cpuShareOver(pid, 2000);

    const since = agent.mark();
    const disconnectedAt = Date.now();
    await connectAndClose(join(lab.statePath, 'dummy-ups-spin'));
    const spinning = await cpuShareOver(pid, 1500);

    const event = await agent.waitForEvent('driver-spinning', (e) => e.ups === 'spin', {
      since,
      timeoutMs: 30_000,
    });
    const detectedAt = Date.now();
    const recovered = await agent.waitForEvent('recovered', (e) => e.ups === 'spin', {
      since,
      timeoutMs: 30_000,
    });
    const newPid = agent.driverPid('spin') as number;
    await sleep(1000); // the new driver's start-up (first dump to upsd) is not the steady state
    const after = await cpuShareOver(newPid, 3000);
    const calm = await cpuShareOver(agent.driverPid('calm') as number, 2000);

    const numbers = {
      nut: NUT_VERSION,
      cpuShareBefore: before,
      cpuShareSpinning: spinning,
      eventCpuShare: event.cpuShare,
      eventDurationMs: event.durationMs,
      detectMs: detectedAt - disconnectedAt,
      recoveredDurationMs: recovered.durationMs,
      cpuShareAfterRestart: after,
      cpuShareNeighbour: calm,
    };
    console.log(`spin watchdog: ${JSON.stringify(numbers)}`);

    expect(spinning).toBeGreaterThan(0.3);
    expect(event.childPid).toBe(pid);
    expect(event.cpuShare).toBeGreaterThan(0.2);
    expect(event.durationMs).toBeGreaterThanOrEqual(3000);
    // Detection within the duration plus a couple of sampling intervals (500 ms each at 3 s).
    expect(detectedAt - disconnectedAt).toBeLessThan(3000 + 2500);
    expect(agent.eventsOf('recovering', (e) => e.ups === 'spin', since).map((e) => e.reason)).toEqual([
      'spinning',
    ]);
    expect(recovered.reason).toBe('spinning');
    expect(processAlive(pid)).toBe(false);
    expect(newPid).not.toBe(pid);
    expect(after).toBeLessThan(0.1);
    expect(agent.controller.supervisor.ups('spin')?.snapshot().supervisor).toMatchObject({
      state: 'ok',
      lastRestartReason: 'spinning',
    });
    // The healthy driver beside it was never taken for a spinning one, nor restarted.
    expect(agent.eventsOf('driver-spinning', (e) => e.ups === 'calm')).toEqual([]);
    expect(agent.eventsOf('recovering', (e) => e.ups === 'calm')).toEqual([]);
    expect(calm).toBeLessThan(0.1);
  });
});
