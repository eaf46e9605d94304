// LIST CMD is asked once per driver start, not on every poll: counted on the agent's own NutClient (a spy that
// calls through to the real upsd).
import { afterAll, describe, expect, it, vi } from 'vitest';
import { NutClient } from '../../src/nut/client.js';
import { type AgentUnderTest, startAgent } from '../fixtures/agent.js';
import { createNutLab, type NutLab, sleep } from '../fixtures/nutLab.js';
import { ON_NUT } from '../fixtures/nutVersion.js';

describe(`LIST CMD per driver start, ${ON_NUT}`, () => {
  let lab: NutLab | undefined;
  let agent: AgentUnderTest | undefined;
  afterAll(async () => {
    await agent?.stop();
    await lab?.stop();
    vi.restoreAllMocks();
  });

  it('asks once after the driver starts, not every poll, and again after a driver restart', async () => {
    const listCmd = vi.spyOn(NutClient.prototype, 'listCmd');
    lab = await createNutLab({ upses: [{ name: 'ups1' }] });
    agent = await startAgent(lab, { timings: { pollInterval: 200 } });
    await agent.waitForEvent('ready', (e) => e.ups === 'ups1');
    const callsFor = () => listCmd.mock.calls.filter(([ups]) => ups === 'ups1').length;
    await sleep(1000);
    const afterStart = callsFor();
    expect(afterStart).toBeGreaterThanOrEqual(1);
    expect(agent.controller.supervisor.ups('ups1')?.snapshot().commands).toContain('load.off');
    // Ten more polls: no more LIST CMD.
    await sleep(2000);
    expect(callsFor()).toBe(afterStart);

    const since = agent.mark();
    const outcome = await agent.controller.supervisor.restartUps('ups1');
    expect(outcome.ok).toBe(true);
    await agent.waitForEvent('recovered', (e) => e.ups === 'ups1', { since });
    await sleep(1000);
    expect(callsFor()).toBeGreaterThan(afterStart);
    const afterRestart = callsFor();
    await sleep(2000);
    expect(callsFor()).toBe(afterRestart);
  }, 60_000);
});
