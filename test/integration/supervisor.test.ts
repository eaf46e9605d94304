// The heart, against real NUT (2.8.0 on the host; 2.8.1 and 2.8.5 in the lab containers): upsd and three dummy-ups
// drivers started by the agent itself.
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverSocketCapabilities } from '../../src/nut/nutCapabilities.js';
import { NutVersion } from '../../src/nut/nutVersion.js';
import { type AgentUnderTest, startAgent } from '../fixtures/agent.js';
import { createNutLab, type NutLab, processAlive, sleep } from '../fixtures/nutLab.js';
import { NUT_VERSION, ON_NUT } from '../fixtures/nutVersion.js';

/** CPU ticks (1/100 s) a process used: utime + stime from /proc/<pid>/stat. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

describe(`supervisor with three dummy-ups UPSes, ${ON_NUT}`, () => {
  let lab: NutLab;
  let agent: AgentUnderTest;
  const names = ['ups1', 'ups2', 'ups3'];

  beforeAll(async () => {
    lab = await createNutLab({ upses: names.map((name) => ({ name, desc: `test ${name}` })), maxAge: 15 });
    agent = await startAgent(lab);
    for (const ups of names) await agent.waitForEvent('ready', (e) => e.ups === ups);
  });

  afterAll(async () => {
    const pids = agent?.startedPids() ?? [];
    await agent?.stop();
    // Nothing the agent started may be left running.
    expect(pids.filter(processAlive)).toEqual([]);
    await lab?.stop();
  });

  it('starts upsd and every driver itself, and data flows for each UPS', async () => {
    const snapshots = agent.controller.supervisor.snapshots();
    expect(snapshots.map((s) => s.name)).toEqual(names);
    for (const s of snapshots) {
      expect(s.supervisor.state).toBe('ok');
      expect(s.vars['ups.status']).toBe('OL');
      expect(s.vars['device.model']).toBe('CP1500PFCLCD');
      expect(s.supervisor.childPid).toBeGreaterThan(0);
      expect(s.description).toBe(`test ${s.name}`);
    }
    // What the agent started is what port 3493's clients see.
    const upsc = await execa('upsc', ['-l', `127.0.0.1:${lab.port}`]);
    expect(upsc.stdout.split('\n').sort()).toEqual(names);
    for (const e of agent.eventsOf('ready')) expect(e.startupMs).toBeGreaterThan(0);
  });

  const socketCaps = driverSocketCapabilities(NutVersion.parse(NUT_VERSION));
  it(`knows it runs ${ON_NUT}, and ${socketCaps.logout ? 'checks GETPID and says LOGOUT before it restarts a driver' : 'sends the drivers neither GETPID nor LOGOUT'}`, async () => {
    expect(agent.controller.supervisor.nutVersion?.toString()).toBe(
      NutVersion.parse(NUT_VERSION)?.toString(),
    );
    const pid = agent.driverPid('ups1');
    const restarted = await agent.controller.supervisor.restartUps('ups1');
    expect(restarted.ok).toBe(true);
    expect(agent.driverPid('ups1')).not.toBe(pid);
    const log = readFileSync(agent.logFile, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg: string; ups?: string; logout?: string });
    const logouts = log.filter((l) => l.ups === 'ups1' && l.msg.includes('after LOGOUT'));
    // The driver alive and answering: it says goodbye before it is stopped.
    expect(logouts.map((l) => l.logout)).toEqual(socketCaps.logout ? ['goodbye'] : []);
    expect(log.filter((l) => l.msg.includes('not by the driver the agent started'))).toEqual([]);
    expect(log.filter((l) => l.msg.includes('NUT version unknown'))).toEqual([]);
  });

  it('restarts a hung (SIGSTOPped) driver while the others keep fresh data and their pids', async () => {
    const before = Object.fromEntries(names.map((n) => [n, agent.driverPid(n)]));
    const upsdPid = agent.controller.supervisor.upsdPid;
    const since = agent.mark();
    const hungPid = before.ups2 as number;
    process.kill(hungPid, 'SIGSTOP');

    const hung = await agent.waitForEvent('hung', (e) => e.ups === 'ups2', { since });
    // The learned timeout (this driver's PONG latency with headroom), never above PROBE_TIMEOUT.
    expect(hung.timeoutMs).toBeLessThanOrEqual(agent.config.supervisor.probeTimeout);
    expect(hung.silentMs).toBeGreaterThanOrEqual(hung.timeoutMs);
    const recovered = await agent.waitForEvent('recovered', (e) => e.ups === 'ups2', {
      since,
      timeoutMs: 30_000,
    });
    expect(recovered.reason).toBe('hung');
    // The outage began when the driver fell silent, before the hang was detected: since_fresh_ms says so.
    expect(recovered.sinceFreshMs).toBeGreaterThanOrEqual(recovered.durationMs + hung.silentMs - 100);

    expect(agent.driverPid('ups2')).not.toBe(hungPid);
    // The hung process is gone, not left behind.
    expect(processAlive(hungPid)).toBe(false);
    expect(await lab.waitForStatus('ups2', (s) => s === 'OL')).toBe('OL');
    // The others were never touched.
    expect(agent.driverPid('ups1')).toBe(before.ups1);
    expect(agent.driverPid('ups3')).toBe(before.ups3);
    expect(agent.eventsOf('state-changed', (e) => e.ups !== 'ups2', since)).toEqual([]);
    expect(agent.eventsOf('driver-exited', (e) => e.ups !== 'ups2', since)).toEqual([]);
    // upsd untouched.
    expect(agent.controller.supervisor.upsdPid).toBe(upsdPid);
    expect(agent.eventsOf('upsd-started', undefined, since)).toEqual([]);
    // Event order tells the story.
    const story = agent.events
      .slice(since)
      .filter((e) => 'ups' in e.payload && e.payload.ups === 'ups2')
      .map((e) => e.name)
      .filter((n) => ['hung', 'recovering', 'driver-exited', 'driver-started', 'recovered'].includes(n));
    expect(story).toEqual(['hung', 'recovering', 'driver-exited', 'driver-started', 'recovered']);
  });

  it('restarts a crashed (SIGKILLed) driver', async () => {
    const since = agent.mark();
    const pid = agent.driverPid('ups3') as number;
    process.kill(pid, 'SIGKILL');
    const exited = await agent.waitForEvent('driver-exited', (e) => e.ups === 'ups3', { since });
    expect(exited).toMatchObject({ childPid: pid, signal: 'SIGKILL', expected: false });
    const recovered = await agent.waitForEvent('recovered', (e) => e.ups === 'ups3', { since });
    expect(recovered.reason).toBe('crashed');
    expect(recovered.sinceFreshMs).toBeGreaterThanOrEqual(recovered.durationMs);
    expect(agent.driverPid('ups3')).not.toBe(pid);
    expect(await lab.waitForStatus('ups3', (s) => s === 'OL')).toBe('OL');
  });

  it('reports a status change the driver announces (OL → OB → OL)', async () => {
    const since = agent.mark();
    await lab.writeDev('ups1', { 'ups.status': 'OB DISCHRG' });
    const change = await agent.waitForEvent(
      'status-changed',
      (e) => e.ups === 'ups1' && e.to === 'OB DISCHRG',
      { since },
    );
    expect(change.from).toBe('OL');
    await lab.writeDev('ups1', { 'ups.status': 'OL' });
    await agent.waitForEvent('status-changed', (e) => e.ups === 'ups1' && e.to === 'OL', { since });
    expect(agent.eventsOf('recovering', undefined, since)).toEqual([]);
  });

  it('brings upsd back after it is killed, and restarts the drivers so none is left spinning', async () => {
    const since = agent.mark();
    const upsdPid = agent.controller.supervisor.upsdPid as number;
    const oldDrivers = names.map((n) => agent.driverPid(n) as number);
    process.kill(upsdPid, 'SIGKILL');

    await agent.waitForEvent('upsd-restarted', undefined, { since, timeoutMs: 30_000 });
    for (const ups of names) {
      const r = await agent.waitForEvent('recovered', (e) => e.ups === ups, { since, timeoutMs: 30_000 });
      expect(r.reason).toBe('upsd-restarted');
    }
    expect(agent.controller.supervisor.upsdPid).not.toBe(upsdPid);
    for (const pid of oldDrivers) expect(processAlive(pid)).toBe(false);
    for (const ups of names) expect(await lab.waitForStatus(ups, (s) => s === 'OL')).toBe('OL');

    // NUT 2.8.0 drivers spin at ~50 % CPU on a dead upsd connection; restarted ones idle.
    const fresh = names.map((n) => agent.driverPid(n) as number);
    const before = fresh.map(cpuTicks);
    await sleep(2000);
    const used = fresh.map((pid, i) => cpuTicks(pid) - (before[i] as number));
    for (const ticks of used) expect(ticks).toBeLessThan(50);
  });
});
