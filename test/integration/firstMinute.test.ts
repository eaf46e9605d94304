// The first minute of a fresh install, as a container or add-on user sees it: the agent started as a user runs it
// (a subprocess, its JSON log), a NUT configuration that has never run, no energy state file yet, a real broker.
// Nothing in that log may be a warning, and the UPS turns available as soon as upsd serves its driver's first data
// (not at the next poll: POLL_INTERVAL is a minute here, so only the start's own check can make it ready).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentProcess, groupWarnings, type LogLine, parseLogLine } from '../fixtures/agentCli.js';
import { type MqttLab, startMqttLab } from '../fixtures/mqttAgent.js';
import { json } from '../fixtures/mqttObserver.js';
import { ON_NUT } from '../fixtures/nutVersion.js';

describe(`the first minute of a fresh install, ${ON_NUT}`, () => {
  let setup: MqttLab;
  let agent: AgentProcess;
  const lines: LogLine[] = [];

  beforeAll(async () => {
    setup = await startMqttLab({ upses: [{ name: 'ups' }], observe: ['nut/#'] });
    const { lab, broker, cleanup } = setup;
    expect(existsSync(join(lab.env.DATA_PATH as string, 'energy.json'))).toBe(false);
    agent = new AgentProcess({
      env: { ...lab.env, NUT_USER: 'root', MQTT_URL: broker.url, POLL_INTERVAL: '60000', LOG_LEVEL: 'info' },
      logFile: join(lab.dir, 'agent.log'),
      fromSource: true,
      onLine: (line) => {
        const entry = parseLogLine(line);
        if (entry) lines.push(entry);
      },
    });
    cleanup.add('agent', async () => {
      await agent.stop(15_000);
    });
    await setup.obs.waitFor('nut/ups/availability', (m) => m.text === 'online', { timeoutMs: 45_000 });
  });

  afterAll(() => setup?.cleanup.runOrThrow());

  it('turns the UPS available from the start’s own check, not from a poll a minute later', async () => {
    const { obs } = setup;
    const ready = json(await obs.waitFor('nut/ups/event', (m) => json(m).type === 'ready'));
    expect(ready.startup_ms).toBeGreaterThan(0);
    // The state that said `ok` carries the driver's data: availability never runs ahead of it.
    const ok = await obs.waitFor(
      'nut/ups',
      (m) => (json(m).supervisor as { state?: string })?.state === 'ok',
    );
    expect(json(ok)['ups.status']).toBe('OL');
    const online = obs.on('nut/ups/availability').filter((m) => m.text === 'online');
    expect(online.length).toBe(1);
  });

  it('logs no warning or error: upsd binding its port and a missing energy file are not alarms', () => {
    expect(groupWarnings(lines)).toEqual([]);
    const messages = lines.map((l) => l.msg);
    expect(messages.some((m) => /^upsd answers \d+ ms after its start$/.test(m))).toBe(true);
    expect(messages.some((m) => m.startsWith('energy totals start from 0 (no '))).toBe(true);
    expect(messages.some((m) => /first fresh data \d+ ms after the driver started/.test(m))).toBe(true);
  });
});
