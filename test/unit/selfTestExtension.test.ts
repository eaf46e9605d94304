// The self-test extension behind the real command handler, with a supervisor that cannot be real here (the
// integration tests drive blazer_ser and usbhid-ups): which commands start a test, what is refused and why, how a
// test is followed to its result, and when the schedule starts or defers one.
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandResponse } from '../../src/api/commands.js';
import { topicsFor } from '../../src/api/topics.js';
import { type BusEventName, type BusEvents, EventBus } from '../../src/events.js';
import type { SelfTestRecord } from '../../src/history/selfTest.js';
import { SelfTestExtension } from '../../src/history/selfTestExtension.js';
import type { ScheduleSettings } from '../../src/history/selfTestSchedule.js';
import { CommandHandler } from '../../src/mqtt/commandHandler.js';
import type { InstcmdResult } from '../../src/nut/instcmdSession.js';
import type { SupervisionState, UpsSnapshot } from '../../src/supervisor/types.js';
import { waitFor } from '../fixtures/proc.js';

const silent = pino({ level: 'silent' });

class FakeUps {
  vars: Record<string, string> = {
    'ups.status': 'OL',
    'battery.charge': '100',
    'ups.test.result': 'No test initiated',
  };
  commands = ['beeper.toggle', 'test.battery.start.quick', 'test.battery.start.deep'];
  state: SupervisionState = 'ok';
  /** What the next instant command answers. */
  answer: InstcmdResult | Error = { outcome: 'success', trackingId: 't1' };
  sent: string[] = [];
  snapshot = (name: string): UpsSnapshot | undefined =>
    name === 'ups1'
      ? {
          name,
          driver: 'blazer_ser',
          vars: { ...this.vars },
          commands: this.commands,
          supervisor: { state: this.state, restarts: 0 },
        }
      : undefined;
  instcmd = async (_ups: string, command: string): Promise<InstcmdResult> => {
    this.sent.push(command);
    if (this.answer instanceof Error) throw this.answer;
    return this.answer;
  };
  restartUps = async () => ({ ok: true as const, durationMs: 0 });
  restartUpsd = async () => undefined;
}

const running: Array<{ stop(): Promise<void> | void }> = [];
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
});

function setup(
  options: { schedule?: Partial<ScheduleSettings>; now?: () => number; allowed?: string[] } = {},
) {
  const ups = new FakeUps();
  const bus = new EventBus();
  const events: Array<{ name: BusEventName; payload: unknown }> = [];
  for (const name of ['self-test-started', 'self-test', 'self-test-deferred'] as const)
    bus.on(name, (payload) => events.push({ name, payload }));
  let last: SelfTestRecord | null = null;
  bus.on('self-test', (e) => {
    const { result, test, detail, origin, startedAt } = e;
    if (result !== 'not-started') last = { test, result, detail, origin, startedAt, at: e.at };
  });
  const tests = new SelfTestExtension({
    supervisor: ups,
    bus,
    logger: silent,
    upsNames: ['ups1'],
    allowedInstcmds: options.allowed ?? [
      'test.battery.start.quick',
      'test.battery.start.deep',
      'beeper.toggle',
    ],
    hasCredentials: true,
    schedule: { days: 0, at: '03:00', type: 'quick', minCharge: 90, ...options.schedule },
    lastSelfTest: () => last,
    checkIntervalMs: 10,
    ...(options.now ? { now: options.now } : {}),
  });
  const responses: CommandResponse[] = [];
  const handler = new CommandHandler({
    supervisor: ups,
    bus,
    topics: topicsFor('nut'),
    logger: silent,
    allowedInstcmds: [
      'test.battery.start.quick',
      'test.battery.start.deep',
      'test.battery.stop',
      'beeper.toggle',
    ],
    cooldownMs: 0,
    restartTimeoutMs: 60_000,
    instcmdTimeoutMs: 60_000,
    upsdRestartTimeoutMs: 60_000,
    selfTest: tests,
    respond: (_topic, response) => responses.push(response),
  });
  running.push(tests, { stop: () => handler.stop() });
  const send = async (payload: string) => {
    const before = responses.length;
    handler.handle('nut/ups1/command', Buffer.from(payload), { retained: false });
    await waitFor('a response', () => responses[before], { timeoutMs: 5000 });
    return responses[before] as CommandResponse;
  };
  /** The UPS's data changes (the supervisor would say so on the bus). */
  const update = (vars: Record<string, string>) => {
    Object.assign(ups.vars, vars);
    bus.emit('ups-updated', { snapshot: ups.snapshot('ups1') as UpsSnapshot, at: Date.now() });
  };
  const eventsOf = <K extends BusEventName>(name: K) =>
    events.filter((e) => e.name === name).map((e) => e.payload as BusEvents[K]);
  return { ups, bus, tests, send, update, eventsOf };
}

describe('self-test commands', () => {
  it('`self-test` with type deep runs test.battery.start.deep and answers ok once the driver ran it', async () => {
    const { ups, tests, send, eventsOf } = setup();
    await tests.start();
    const response = await send('{"command":"self-test","type":"deep","transaction":7}');
    expect(response).toMatchObject({ status: 'ok', command: 'self-test', transaction: 7 });
    expect(ups.sent).toEqual(['test.battery.start.deep']);
    expect(eventsOf('self-test-started')).toMatchObject([{ ups: 'ups1', test: 'deep', origin: 'command' }]);
    expect(tests.view('ups1')).toMatchObject({ supported: true, running: true });
    // One test at a time.
    expect(await send('self-test')).toMatchObject({ status: 'error', error: 'busy' });
  });

  it('follows the test (a raw test.battery.start.quick too, as a Home Assistant button sends it) to its result', async () => {
    const { tests, send, update, eventsOf } = setup();
    await tests.start();
    expect(await send('test.battery.start.quick')).toMatchObject({ status: 'ok' });
    update({ 'ups.test.result': 'In progress' });
    expect(eventsOf('self-test')).toEqual([]);
    update({ 'ups.test.result': 'Done and warning' });
    expect(eventsOf('self-test')).toMatchObject([
      { ups: 'ups1', test: 'quick', result: 'warning', detail: 'Done and warning', origin: 'command' },
    ]);
    expect(tests.view('ups1').running).toBe(false);
  });

  it('a test stopped over MQTT (test.battery.stop) ends as aborted on a UPS without ups.test.result', async () => {
    const { ups, tests, send, update, eventsOf } = setup();
    ups.commands.push('test.battery.stop');
    delete ups.vars['ups.test.result'];
    await tests.start();
    expect(await send('self-test')).toMatchObject({ status: 'ok' });
    update({ 'ups.status': 'OL CAL' });
    expect(await send('test.battery.stop')).toMatchObject({ status: 'ok' });
    update({ 'ups.status': 'OL' });
    expect(eventsOf('self-test')).toMatchObject([
      { result: 'aborted', detail: 'stopped by test.battery.stop' },
    ]);
  });

  it.each([
    ['{"command":"self-test","type":"long"}', { error: 'invalid-argument' }],
    ['{"command":"self-test","type":["deep"]}', { error: 'invalid-argument' }],
  ])('refuses %s', async (payload, expected) => {
    const { ups, tests, send } = setup();
    await tests.start();
    expect(await send(payload)).toMatchObject({ status: 'error', ...expected });
    expect(ups.sent).toEqual([]);
  });

  it('says clearly that a UPS without a test command cannot test, and what is not allowed', async () => {
    const { ups, tests, send } = setup({ allowed: [] });
    await tests.start();
    ups.commands = ['beeper.toggle', 'test.battery.start.quick'];
    expect(await send('{"command":"self-test","type":"deep"}')).toEqual({
      status: 'error',
      command: 'self-test',
      error: 'instcmd-not-supported',
      detail:
        'ups1 (driver blazer_ser) lists no test.battery.start.deep: it cannot run a deep self-test (it can run a quick one)',
      duration_ms: expect.any(Number),
    });
    ups.commands = [];
    expect(await send('self-test')).toMatchObject({ error: 'instcmd-not-supported' });
    expect(ups.sent).toEqual([]);
  });

  it('refuses a test on battery or without fresh data, and a test that is not allowed', async () => {
    const { ups, tests, send } = setup({ allowed: ['test.battery.start.quick'] });
    await tests.start();
    ups.vars['ups.status'] = 'OB DISCHRG';
    expect(await send('self-test')).toMatchObject({
      error: 'self-test-refused',
      detail: 'the UPS is on battery',
    });
    ups.vars['ups.status'] = 'OL';
    ups.state = 'recovering';
    expect(await send('self-test')).toMatchObject({ error: 'self-test-refused' });
    ups.state = 'ok';
    expect(await send('{"command":"self-test","type":"deep"}')).toMatchObject({
      error: 'instcmd-not-allowed',
      detail: 'add test.battery.start.deep to MQTT_INSTCMD_ALLOW',
    });
    expect(ups.sent).toEqual([]);
  });

  it("a start the driver refuses is a not-started event and an instcmd-failed answer with NUT's word", async () => {
    const { ups, tests, send, eventsOf } = setup();
    await tests.start();
    ups.answer = { outcome: 'failed', trackingId: 't2', code: 'FAILED' };
    expect(await send('self-test')).toMatchObject({ error: 'instcmd-failed', detail: 'FAILED' });
    expect(eventsOf('self-test')).toMatchObject([
      { result: 'not-started', detail: 'FAILED', startedAt: null },
    ]);
    expect(tests.view('ups1').running).toBe(false);
  });

  it('records a result the UPS reached on its own (no test of the agent running)', async () => {
    const { tests, update, eventsOf } = setup();
    await tests.start();
    update({ 'ups.test.result': 'Done and passed' }); // the first value: only a baseline
    update({ 'ups.test.result': 'In progress' });
    update({ 'ups.test.result': 'Done and error' });
    expect(eventsOf('self-test')).toMatchObject([
      { test: null, result: 'failed', origin: 'ups', startedAt: null },
    ]);
  });
});

describe('the self-test schedule', () => {
  const at = (d: Date) =>
    `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;

  it('defers a due test while on battery or below the charge, starts it once it may, and not twice in a window', async () => {
    // The window opens at the current minute, on the agent's clock.
    const start = new Date();
    const { ups, tests, update, eventsOf } = setup({ schedule: { days: 30, at: at(start), minCharge: 90 } });
    ups.vars['ups.status'] = 'OB DISCHRG';
    await tests.start();
    update({});
    await waitFor('a deferral (on battery)', () => eventsOf('self-test-deferred')[0], { timeoutMs: 5000 });
    expect(eventsOf('self-test-deferred')).toMatchObject([
      { ups: 'ups1', test: 'quick', reason: 'on-battery' },
    ]);
    update({ 'ups.status': 'OL CHRG', 'battery.charge': '60' });
    await waitFor('a deferral (low charge)', () => eventsOf('self-test-deferred')[1], { timeoutMs: 5000 });
    expect(eventsOf('self-test-deferred')[1]).toMatchObject({ reason: 'low-charge' });
    expect(ups.sent).toEqual([]);
    ups.answer = { outcome: 'failed', trackingId: 't3', code: 'FAILED' };
    update({ 'ups.status': 'OL', 'battery.charge': '95' });
    await waitFor('the scheduled start', () => eventsOf('self-test')[0], { timeoutMs: 5000 });
    expect(eventsOf('self-test')).toMatchObject([{ origin: 'schedule', result: 'not-started' }]);
    // A failed start is not retried every check: the window had its try.
    await new Promise((r) => setTimeout(r, 100));
    expect(ups.sent).toEqual(['test.battery.start.quick']);
    expect(tests.view('ups1').nextAt).not.toBeNull();
  });
  it('counts the UPS as seen once its state is ok, even when its data stopped changing before that', async () => {
    // The driver's data came while the supervisor still verified it; the state turned ok later with no new data.
    const { ups, tests, update, eventsOf } = setup({ schedule: { days: 30, at: at(new Date()) } });
    ups.vars['ups.status'] = 'OB DISCHRG';
    ups.state = 'starting';
    await tests.start();
    update({});
    await new Promise((r) => setTimeout(r, 50));
    expect(eventsOf('self-test-deferred')).toEqual([]);
    ups.state = 'ok';
    await waitFor('a deferral (on battery)', () => eventsOf('self-test-deferred')[0], { timeoutMs: 5000 });
    expect(eventsOf('self-test-deferred')).toMatchObject([{ reason: 'on-battery' }]);
  });
});
