// The spinning-driver watchdog against a real NUT driver made to spin the way users' do: a second client connects
// to the driver's unix socket and closes. NUT 2.8.0–2.8.2 ignore read()==0 on a socket client and spin on the dead
// connection (~50 % of a core here) while their data stays fresh; 2.8.3+ reap it, and the second test shows that the
// watchdog then stays quiet (the lab runs this file on 2.8.1 and 2.8.5).
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NutVersion } from '../../src/nut/nutVersion.js';
import { type CpuSample, cpuShareBetween } from '../../src/supervisor/cpuSpin.js';
import { clockTicksPerSecond, readCpuSample } from '../../src/supervisor/procCpu.js';
import { type AgentUnderTest, startAgent } from '../fixtures/agent.js';
import { createNutLab, type NutLab, processAlive, sleep } from '../fixtures/nutLab.js';
import { NUT_VERSION, ON_NUT } from '../fixtures/nutVersion.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** NUT 2.8.3 reaps a socket client that closes (commit 2c2addd8a): its drivers cannot be made to spin this way. */
const reapsClients = NutVersion.parse(NUT_VERSION)?.atLeast('2.8.3') ?? false;

/**
 * A lab with these dummy-ups UPSes and the agent, with a low spin share (on a loaded 2-core CI machine a spinning
 * driver gets only part of a core, 0.29 seen, while an idle one stays near 0) and a short duration, every UPS ready.
 * Cleanup stops both and checks that no process the agent started is left.
 */
async function spinLab(upses: string[]): Promise<{ lab: NutLab; agent: AgentUnderTest }> {
  const lab = await createNutLab({ upses: upses.map((name) => ({ name })) });
  cleanups.push(() => lab.stop());
  const agent = await startAgent(lab, { timings: { spinCpuShare: 0.1, spinDuration: 3000 } });
  cleanups.push(async () => {
    const pids = agent.startedPids();
    await agent.stop();
    expect(pids.filter(processAlive)).toEqual([]);
  });
  for (const ups of upses) await agent.waitForEvent('ready', (e) => e.ups === ups);
  return { lab, agent };
}

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

// Only one of the two suites is defined on a given NUT: not a skip (the lab asserts that nothing is skipped), the
// other behaviour does not exist there.
const suite = (defined: boolean) => (defined ? describe : () => {});

suite(!reapsClients)(`a driver that spins after a socket client disconnects, ${ON_NUT}`, () => {
  it('is detected, reported with its CPU share, restarted (reason spinning), and quiet afterwards; its neighbour is left alone', async () => {
    const { lab, agent } = await spinLab(['spin', 'calm']);
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

    // Relative to the same driver a moment before, not an absolute share: what a process gets depends on the load.
    expect(spinning).toBeGreaterThan(Math.max(0.1, 5 * before));
    expect(event.childPid).toBe(pid);
    expect(event.cpuShare).toBeGreaterThanOrEqual(0.1);
    expect(event.durationMs).toBeGreaterThanOrEqual(3000);
    // How soon after the disconnect it was called (detectMs) is logged above, not asserted: that is a timing.
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

suite(reapsClients)(`a driver that reaps a socket client that disconnects, ${ON_NUT}`, () => {
  it('does not spin, and the watchdog leaves it alone', async () => {
    const { lab, agent } = await spinLab(['reaps']);
    const pid = agent.driverPid('reaps') as number;
    const since = agent.mark();

    await connectAndClose(join(lab.statePath, 'dummy-ups-reaps'));
    const afterDisconnect = await cpuShareOver(pid, 1500);
    // Longer than SPIN_DURATION plus the watchdog's sampling: a spin would have been called by now.
    await sleep(3000 + 2500);
    console.log(`no spin: ${JSON.stringify({ nut: NUT_VERSION, cpuShareAfterDisconnect: afterDisconnect })}`);

    expect(afterDisconnect).toBeLessThan(0.1);
    expect(agent.eventsOf('driver-spinning', () => true, since)).toEqual([]);
    expect(agent.eventsOf('recovering', () => true, since)).toEqual([]);
    expect(agent.driverPid('reaps')).toBe(pid);
    expect(processAlive(pid)).toBe(true);
  });
});
