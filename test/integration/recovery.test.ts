// Recovery policy against real drivers: a driver that cannot start (backoff, then the circuit breaker), and a
// serial driver that stays alive while its UPS stops answering (blazer_ser on a simulated Megatec/Q1 UPS).
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type AgentOptions, type AgentUnderTest, startAgent } from '../fixtures/agent.js';
import { createNutLab, type NutLab, processAlive, sleep, waitFor } from '../fixtures/nutLab.js';
import { ON_NUT } from '../fixtures/nutVersion.js';
import { type Q1Simulator, startQ1Simulator } from '../fixtures/q1Simulator.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function labWithAgent(lab: NutLab, timings: AgentOptions['timings']): Promise<AgentUnderTest> {
  cleanups.push(() => lab.stop());
  const agent = await startAgent(lab, { timings });
  cleanups.push(async () => {
    const pids = agent.startedPids();
    await agent.stop();
    expect(pids.filter(processAlive)).toEqual([]);
  });
  return agent;
}

describe(`a driver that exits at once, ${ON_NUT}`, () => {
  it('is retried with growing backoff, then the circuit opens (state failed) and the restarts stop', async () => {
    const lab = await createNutLab({
      upses: [{ name: 'good' }, { name: 'bad', driver: 'dummy-ups', port: 'missing.dev' }],
    });
    const agent = await labWithAgent(lab, {
      backoffInitial: 200,
      backoffMax: 5000,
      breakerRestarts: 3,
      breakerWindow: 60_000,
      failedRetry: 60_000,
    });
    await agent.waitForEvent('ready', (e) => e.ups === 'good');
    const opened = await agent.waitForEvent('recovery-failed', (e) => e.ups === 'bad' && e.circuitOpen);
    expect(opened.retryInMs).toBe(60_000);
    // Failed recoveries opened it, not a storm of restarts.
    expect(opened.circuitReason).toBe('failures');
    expect(agent.controller.supervisor.ups('bad')?.snapshot().supervisor.state).toBe('failed');

    const failures = agent.eventsOf('recovery-failed', (e) => e.ups === 'bad');
    expect(failures.map((f) => f.attempt)).toEqual([1, 2, 3]);
    expect(failures.map((f) => f.retryInMs)).toEqual([200, 400, 60_000]);
    expect(failures[0]?.error).toMatch(/driver exited during start \(code 1\)/);

    // No storm: nothing more happens while the circuit is open.
    const startsBefore = agent.eventsOf('driver-started', (e) => e.ups === 'bad').length;
    expect(startsBefore).toBe(4); // the first start + 3 recovery attempts
    await sleep(3000);
    expect(agent.eventsOf('driver-started', (e) => e.ups === 'bad').length).toBe(startsBefore);
    // The healthy UPS never noticed.
    expect(agent.eventsOf('recovering', (e) => e.ups === 'good')).toEqual([]);
    expect(agent.controller.supervisor.ups('good')?.snapshot().supervisor.state).toBe('ok');
  });
});

describe(`a flaky UPS (faults that each recover), ${ON_NUT}`, () => {
  it('recovers six hang and crash faults within five minutes, each in seconds, and never opens the circuit', async () => {
    const lab = await createNutLab({ upses: [{ name: 'flaky' }, { name: 'calm' }] });
    // The production breaker: 5 failed recoveries within 300 s (restarts that bring data back do not count).
    const agent = await labWithAgent(lab, { breakerRestarts: 5, breakerWindow: 300_000 });
    for (const ups of ['flaky', 'calm']) await agent.waitForEvent('ready', (e) => e.ups === ups);
    const first = agent.mark();
    const startedAt = Date.now();
    const calmPid = agent.driverPid('calm');
    const durations: number[] = [];
    for (let i = 0; i < 6; i++) {
      const since = agent.mark();
      const pid = agent.driverPid('flaky') as number;
      const kind = i % 2 === 0 ? 'hung' : 'crashed';
      process.kill(pid, kind === 'hung' ? 'SIGSTOP' : 'SIGKILL');
      const recovered = await agent.waitForEvent('recovered', (e) => e.ups === 'flaky', {
        since,
        timeoutMs: 20_000,
      });
      expect(recovered.reason).toBe(kind);
      expect(recovered.attempt).toBe(1);
      durations.push(recovered.durationMs);
      expect(agent.controller.supervisor.ups('flaky')?.snapshot().supervisor.state).toBe('ok');
      expect(processAlive(pid)).toBe(false);
      expect(await lab.waitForStatus('flaky', (s) => s === 'OL')).toBe('OL');
    }
    expect(Date.now() - startedAt).toBeLessThan(300_000);
    // "The usual seconds": a restart of dummy-ups takes ~2 s, a hang adds its detection.
    for (const ms of durations) expect(ms).toBeLessThan(10_000);
    expect(agent.eventsOf('recovery-failed', (e) => e.ups === 'flaky', first)).toEqual([]);
    expect(agent.eventsOf('state-changed', (e) => e.ups === 'flaky' && e.to === 'failed', first)).toEqual([]);
    expect(agent.eventsOf('recovered', (e) => e.ups === 'flaky', first)).toHaveLength(6);
    expect(agent.controller.supervisor.ups('flaky')?.snapshot().supervisor.restarts).toBe(6);
    // The UPS beside it was never touched.
    expect(agent.driverPid('calm')).toBe(calmPid);
  });
});

describe(`upsd that stops answering, ${ON_NUT}`, () => {
  it('is restarted (and the drivers after it) when its process lives but its port no longer answers', async () => {
    const lab = await createNutLab({ upses: [{ name: 'a' }, { name: 'b' }] });
    const agent = await labWithAgent(lab, { requestTimeout: 500, upsdFailureThreshold: 2 });
    for (const ups of ['a', 'b']) await agent.waitForEvent('ready', (e) => e.ups === ups);
    const upsdPid = agent.controller.supervisor.upsdPid as number;
    const since = agent.mark();
    process.kill(upsdPid, 'SIGSTOP');

    const unresponsive = await agent.waitForEvent('upsd-unresponsive', undefined, { since });
    expect(unresponsive.error).toMatch(/no reply from upsd within 500 ms/);
    await agent.waitForEvent('upsd-restarted', undefined, { since, timeoutMs: 30_000 });
    for (const ups of ['a', 'b']) {
      expect(
        (await agent.waitForEvent('recovered', (e) => e.ups === ups, { since, timeoutMs: 30_000 })).reason,
      ).toBe('upsd-restarted');
    }
    expect(processAlive(upsdPid)).toBe(false);
    expect(agent.controller.supervisor.upsdPid).not.toBe(upsdPid);
    expect(await lab.waitForStatus('a', (s) => s === 'OL')).toBe('OL');
    // A hung upsd is not the drivers' fault: their restarts do not count against the circuit breaker.
    expect(agent.eventsOf('recovery-failed', undefined, since)).toEqual([]);
  });
});

describe(`upsd that cannot start, ${ON_NUT}`, () => {
  it('backs off while its port is taken (no restart storm), and comes up once the port is free', async () => {
    const lab = await createNutLab({ upses: [{ name: 'a' }] });
    // Something else holds upsd's port: upsd exits at once ("no listening interface available").
    // It hangs up on whoever connects (the agent's client, until upsd owns the port).
    const squatter = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => squatter.listen(lab.port, '127.0.0.1', resolve));
    const agent = await labWithAgent(lab, {});
    await sleep(4000);
    const exits = agent.eventsOf('upsd-exited');
    // Immediate retry, then 1 s, 2 s, … : a handful of attempts in 4 s, not hundreds.
    expect(exits.length).toBeGreaterThanOrEqual(2);
    expect(exits.length).toBeLessThanOrEqual(5);
    expect(exits.every((e) => e.code === 1 && !e.expected)).toBe(true);

    const since = agent.mark();
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    await agent.waitForEvent('upsd-restarted', undefined, { since, timeoutMs: 30_000 });
    expect(await lab.waitForStatus('a', (s) => s === 'OL', 30_000)).toBe('OL');
    await agent.waitForEvent('state-changed', (e) => e.ups === 'a' && e.to === 'ok', {
      since,
      timeoutMs: 30_000,
    });
  });
});

describe(`driver alive, UPS silent (blazer_ser + Q1 simulator), ${ON_NUT}`, () => {
  /**
   * blazer_ser by default. nutdrv_qx (megatec, the same Q1 protocol) for the driver's DATASTALE alone: blazer_ser
   * logs that it lost the UPS one poll before it flags DATASTALE, and the agent acts on that line first.
   */
  async function q1Setup(
    timings: AgentOptions['timings'],
    driver: 'blazer_ser' | 'nutdrv_qx' = 'blazer_ser',
  ) {
    const simDir = await mkdtemp(join(tmpdir(), 'q1-'));
    const sim: Q1Simulator = await startQ1Simulator(simDir);
    cleanups.push(async () => {
      await sim.stop();
      await rm(simDir, { recursive: true, force: true });
    });
    const lab = await createNutLab({
      upses: [
        {
          name: 'q1',
          driver,
          port: sim.ttyPath,
          // Without it nutdrv_qx tries every protocol it knows first (~20 s).
          ...(driver === 'nutdrv_qx' ? { options: { protocol: 'megatec' } } : {}),
        },
        { name: 'dummy' },
      ],
    });
    const agent = await labWithAgent(lab, timings);
    await agent.waitForEvent('ready', (e) => e.ups === 'q1', { timeoutMs: 30_000 });
    return { sim, lab, agent };
  }

  it('restarts a stale driver, backs off while comms stay lost, and is ok once they return', async () => {
    const { sim, lab, agent } = await q1Setup({
      staleGrace: 1000,
      backoffInitial: 1000,
      backoffMax: 8000,
      breakerRestarts: 20,
    });
    const alivePid = agent.driverPid('q1') as number;
    const since = agent.mark();
    sim.setMuted(true);

    const stale = await agent.waitForEvent('stale', (e) => e.ups === 'q1', { since, timeoutMs: 30_000 });
    expect(['driver-log', 'driver', 'upsd']).toContain(stale.source);
    // The driver was alive and answering PING when its data went stale: this is not a hang.
    expect(agent.eventsOf('hung', (e) => e.ups === 'q1', since)).toEqual([]);
    const recovering = await agent.waitForEvent('recovering', (e) => e.ups === 'q1', {
      since,
      timeoutMs: 30_000,
    });
    expect(recovering.reason).toBe('stale');
    // The stale driver is stopped (SIGTERM, then SIGKILL after STOP_TIMEOUT), never left running beside the new one.
    await waitFor('the stale driver gone', () => (processAlive(alivePid) ? undefined : true), {
      timeoutMs: 10_000,
    });

    // While the UPS stays silent every new driver gives up; the waits between attempts grow.
    await agent.waitForEvent('recovery-failed', (e) => e.ups === 'q1' && e.attempt === 2, {
      since,
      timeoutMs: 60_000,
    });
    const failures = agent.eventsOf('recovery-failed', (e) => e.ups === 'q1', since);
    expect(failures[0]?.retryInMs).toBe(1000);
    expect(failures[1]?.retryInMs).toBe(2000);
    expect(failures.every((f) => !f.circuitOpen)).toBe(true);

    sim.setMuted(false);
    const recovered = await agent.waitForEvent('recovered', (e) => e.ups === 'q1', {
      since,
      timeoutMs: 60_000,
    });
    expect(recovered.reason).toBe('stale');
    expect(recovered.attempt).toBeGreaterThanOrEqual(3);
    expect(await lab.waitForStatus('q1', (s) => s === 'OL')).toBe('OL');
    expect(agent.controller.supervisor.ups('q1')?.snapshot().supervisor.state).toBe('ok');
    // The dummy UPS beside it was never touched.
    expect(agent.eventsOf('recovering', (e) => e.ups === 'dummy')).toEqual([]);
  });

  it('restarts a driver that flags its own data stale at once, however long STALE_GRACE is', async () => {
    // nutdrv_qx says DATASTALE itself after 4 failed polls: it has applied its own tolerance already.
    const { sim, agent } = await q1Setup({ staleGrace: 60_000 }, 'nutdrv_qx');
    const pid = agent.driverPid('q1') as number;
    const since = agent.mark();
    sim.setMuted(true);
    const stale = await agent.waitForEvent('stale', (e) => e.ups === 'q1' && e.source === 'driver', {
      since,
      timeoutMs: 30_000,
    });
    const recovering = await agent.waitForEvent('recovering', (e) => e.ups === 'q1', {
      since,
      timeoutMs: 5000,
    });
    expect(recovering.reason).toBe('stale');
    // The blip filter (250 ms), not the 60 s grace (the bound is loose: a loaded machine must not fail it).
    expect(recovering.at - stale.at).toBeLessThan(10_000);
    expect(recovering.at - stale.at).toBeGreaterThanOrEqual(240);
    expect(agent.eventsOf('hung', (e) => e.ups === 'q1', since)).toEqual([]);
    sim.setMuted(false);
    await agent.waitForEvent('recovered', (e) => e.ups === 'q1', { since, timeoutMs: 30_000 });
    expect(agent.driverPid('q1')).not.toBe(pid);
  });

  it('restarts blazer_ser when it logs that it lost the UPS, a poll before its DATASTALE', async () => {
    const { sim, agent } = await q1Setup({ staleGrace: 60_000 });
    const pid = agent.driverPid('q1') as number;
    const since = agent.mark();
    sim.setMuted(true);
    const stale = await agent.waitForEvent('stale', (e) => e.ups === 'q1', { since, timeoutMs: 30_000 });
    const recovering = await agent.waitForEvent('recovering', (e) => e.ups === 'q1', {
      since,
      timeoutMs: 5000,
    });
    // The first word of staleness was the driver's log line; the driver never got to its DATASTALE.
    expect(stale.source).toBe('driver-log');
    expect(recovering.reason).toBe('stale');
    expect(recovering.at).toBeGreaterThanOrEqual(stale.at);
    expect(agent.eventsOf('stale', (e) => e.ups === 'q1' && e.source === 'driver', since)).toEqual([]);
    expect(agent.eventsOf('hung', (e) => e.ups === 'q1', since)).toEqual([]);
    sim.setMuted(false);
    const recovered = await agent.waitForEvent('recovered', (e) => e.ups === 'q1', {
      since,
      timeoutMs: 30_000,
    });
    expect(recovered.attempt).toBe(1);
    expect(agent.driverPid('q1')).not.toBe(pid);
    expect(processAlive(pid)).toBe(false);
    // The dummy UPS beside it was never touched.
    expect(agent.eventsOf('recovering', (e) => e.ups === 'dummy')).toEqual([]);
  });

  it('reports on-battery and low-battery from the driver feed', async () => {
    const { sim, agent } = await q1Setup({});
    const since = agent.mark();
    sim.setOnBattery(true);
    await agent.waitForEvent('status-changed', (e) => e.ups === 'q1' && /\bOB\b/.test(e.to), { since });
    sim.setLowBattery(true);
    const lb = await agent.waitForEvent('status-changed', (e) => e.ups === 'q1' && /\bLB\b/.test(e.to), {
      since,
    });
    expect(lb.to).toMatch(/OB/);
    expect(agent.eventsOf('recovering', undefined, since)).toEqual([]);
  });
});

describe(`staleness seen only through upsd (driver silent, not flagging), ${ON_NUT}`, () => {
  it('does not restart a driver whose data turns fresh again within the grace period', async () => {
    // A SIGSTOPped driver flags nothing; upsd calls its data stale after MAXAGE. PROBE_TIMEOUT is long so that the
    // probe does not call it hung first (the stop comes right after `ready`, long before the probe has the 30 PONGs
    // it needs to learn a shorter timeout): only upsd's word is left, and STALE_GRACE applies to it.
    const lab = await createNutLab({ upses: [{ name: 'slow' }], maxAge: 3 });
    const agent = await labWithAgent(lab, { staleGrace: 60_000, probeTimeout: 60_000 });
    await agent.waitForEvent('ready', (e) => e.ups === 'slow');
    const pid = agent.driverPid('slow') as number;
    const since = agent.mark();
    process.kill(pid, 'SIGSTOP');
    const stale = await agent.waitForEvent('stale', (e) => e.ups === 'slow', { since, timeoutMs: 30_000 });
    expect(stale.source).toBe('upsd');
    expect(agent.controller.supervisor.ups('slow')?.snapshot().supervisor.state).toBe('suspect');
    process.kill(pid, 'SIGCONT');
    await agent.waitForEvent('stale-cleared', (e) => e.ups === 'slow', { since, timeoutMs: 30_000 });
    expect(agent.eventsOf('recovering', (e) => e.ups === 'slow', since)).toEqual([]);
    expect(agent.eventsOf('hung', (e) => e.ups === 'slow', since)).toEqual([]);
    expect(agent.driverPid('slow')).toBe(pid);
  });
});
