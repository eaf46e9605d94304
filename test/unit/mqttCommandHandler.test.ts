import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandResponse } from '../../src/api/commands.js';
import { topicsFor } from '../../src/api/topics.js';
import { EventBus } from '../../src/events.js';
import { CommandHandler, type CommandSupervisor } from '../../src/mqtt/commandHandler.js';
import { LogLimiter } from '../../src/mqtt/logLimiter.js';
import type { InstcmdResult } from '../../src/nut/instcmdSession.js';
import type { UpsSnapshot } from '../../src/supervisor/types.js';
import type { RestartOutcome } from '../../src/supervisor/upsSupervisor.js';

const silent = pino({ level: 'silent' });

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

class FakeSupervisor implements CommandSupervisor {
  readonly upsNames = ['ups1', 'ups2'];
  restarts: Array<ReturnType<typeof deferred<RestartOutcome>>> = [];
  instcmds: Array<{ ups: string; command: string; done: ReturnType<typeof deferred<InstcmdResult>> }> = [];
  upsdRestarts: Array<ReturnType<typeof deferred<void>>> = [];
  commands = ['beeper.disable', 'beeper.enable', 'load.off'];

  snapshot(name: string): UpsSnapshot | undefined {
    if (!this.upsNames.includes(name)) return undefined;
    return {
      name,
      driver: 'usbhid-ups',
      vars: { 'ups.status': 'OL' },
      commands: this.commands,
      supervisor: { state: 'ok', restarts: 0 },
    };
  }
  restartUps(_name: string): Promise<RestartOutcome> {
    const d = deferred<RestartOutcome>();
    this.restarts.push(d);
    return d.promise;
  }
  restartUpsd(): Promise<void> {
    const d = deferred<void>();
    this.upsdRestarts.push(d);
    return d.promise;
  }
  instcmd(ups: string, command: string): Promise<InstcmdResult> {
    const done = deferred<InstcmdResult>();
    this.instcmds.push({ ups, command, done });
    return done.promise;
  }
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

function setup(
  overrides: { cooldownMs?: number; restartTimeoutMs?: number; instcmdTimeoutMs?: number } = {},
) {
  let now = 1_000_000;
  const supervisor = new FakeSupervisor();
  const bus = new EventBus();
  const responses: Array<{ topic: string; response: CommandResponse }> = [];
  const handler = new CommandHandler({
    supervisor,
    bus,
    topics: topicsFor('nut'),
    logger: silent,
    allowedInstcmds: ['beeper.disable', 'test.battery.start'],
    cooldownMs: overrides.cooldownMs ?? 10_000,
    restartTimeoutMs: overrides.restartTimeoutMs ?? 60_000,
    instcmdTimeoutMs: overrides.instcmdTimeoutMs ?? 60_000,
    upsdRestartTimeoutMs: 60_000,
    respond: (topic, response) => responses.push({ topic, response }),
    now: () => now,
  });
  handlers.push(handler);
  const send = (topic: string, payload: string | Buffer, retained = false) =>
    handler.handle(topic, Buffer.isBuffer(payload) ? payload : Buffer.from(payload), { retained });
  return { supervisor, bus, responses, handler, send, advance: (ms: number) => (now += ms) };
}

const handlers: CommandHandler[] = [];
afterEach(() => {
  for (const h of handlers.splice(0)) h.stop();
});

describe('CommandHandler: restarts', () => {
  it('joins requests while a restart runs: one restart, one answer each with its own transaction', async () => {
    const { supervisor, responses, send, advance } = setup();
    for (let i = 0; i < 1000; i++)
      send('nut/ups1/command', JSON.stringify({ command: 'restart', transaction: i }));
    expect(supervisor.restarts).toHaveLength(1);
    expect(responses).toEqual([]);
    advance(2500);
    supervisor.restarts[0]?.resolve({ ok: true, durationMs: 2500 });
    await flush();
    expect(responses).toHaveLength(1000);
    expect(responses[0]).toEqual({
      topic: 'nut/ups1/command/response',
      response: { status: 'ok', command: 'restart', transaction: 0, duration_ms: 2500 },
    });
    expect(new Set(responses.map((r) => r.response.transaction)).size).toBe(1000);
  });

  it('refuses restarts during the cooldown, and restarts again after it', async () => {
    const { supervisor, responses, send, advance } = setup({ cooldownMs: 10_000 });
    send('nut/ups1/command', 'restart');
    supervisor.restarts[0]?.resolve({ ok: true, durationMs: 100 });
    await flush();
    advance(9000);
    send('nut/ups1/command', '{"command":"restart","transaction":"t"}');
    expect(responses.at(-1)?.response).toMatchObject({
      status: 'error',
      error: 'cooldown',
      transaction: 't',
      detail: 'retry in 1 s',
    });
    // Another UPS has its own cooldown.
    send('nut/ups2/command', 'restart');
    expect(supervisor.restarts).toHaveLength(2);
    advance(1001);
    send('nut/ups1/command', 'restart');
    expect(supervisor.restarts).toHaveLength(3);
  });

  it('answers recovery-failed with the reason when the restart does not bring data back', async () => {
    const { supervisor, responses, send } = setup();
    send('nut/ups1/command', 'restart');
    supervisor.restarts[0]?.resolve({ ok: false, error: 'driver exited during start (code 1)' });
    await flush();
    expect(responses[0]?.response).toMatchObject({
      status: 'error',
      command: 'restart',
      error: 'recovery-failed',
      detail: 'driver exited during start (code 1)',
    });
  });

  it('answers timeout when a restart takes too long, and the late outcome answers nobody twice', async () => {
    const { supervisor, responses, send } = setup({ restartTimeoutMs: 20 });
    send('nut/ups1/command', 'restart');
    await new Promise((r) => setTimeout(r, 50));
    expect(responses.map((r) => r.response.error)).toEqual(['timeout']);
    supervisor.restarts[0]?.resolve({ ok: true, durationMs: 1 });
    await flush();
    expect(responses).toHaveLength(1);
  });

  it('answers restart-upsd ok only when upsd answered again', async () => {
    const { supervisor, bus, responses, send, advance } = setup();
    send('nut/bridge/command', 'restart-upsd');
    bus.emit('upsd-restarted', { reason: 'requested', durationMs: 300, at: 0 });
    supervisor.upsdRestarts[0]?.resolve();
    await flush();
    expect(responses[0]).toMatchObject({
      topic: 'nut/bridge/command/response',
      response: { status: 'ok', command: 'restart-upsd' },
    });
    advance(20_000);
    send('nut/bridge/command', 'restart-upsd');
    supervisor.upsdRestarts[1]?.resolve();
    await flush();
    expect(responses[1]?.response).toMatchObject({ status: 'error', error: 'upsd-restart-failed' });
  });

  it('answers everything still waiting when stopped', async () => {
    const { responses, send, handler } = setup();
    send('nut/ups1/command', 'restart');
    send('nut/ups2/command', 'beeper.disable');
    handler.stop();
    expect(responses.map((r) => [r.topic, r.response.error, r.response.detail])).toEqual(
      expect.arrayContaining([
        ['nut/ups1/command/response', 'recovery-failed', 'agent stopping'],
        ['nut/ups2/command/response', 'instcmd-failed', 'agent stopping'],
      ]),
    );
    send('nut/ups1/command', 'restart');
    expect(responses).toHaveLength(2);
  });
});

describe('CommandHandler: instant commands and bad input', () => {
  it('runs an allowed and listed command; refuses others without calling the supervisor', async () => {
    const { supervisor, responses, send } = setup();
    send('nut/ups1/command', '{"command":"beeper.disable","transaction":"b"}');
    expect(supervisor.instcmds.map((c) => [c.ups, c.command])).toEqual([['ups1', 'beeper.disable']]);
    send('nut/ups1/command', 'beeper.disable');
    expect(responses.at(-1)?.response).toMatchObject({ status: 'error', error: 'busy' });
    supervisor.instcmds[0]?.done.resolve({ outcome: 'success', trackingId: 'id-1' });
    await flush();
    expect(responses.at(-1)?.response).toMatchObject({
      status: 'ok',
      command: 'beeper.disable',
      transaction: 'b',
    });

    const refused: Array<[string, string]> = [
      ['beeper.enable', 'instcmd-not-allowed'],
      ['test.battery.start', 'instcmd-not-supported'],
      ['shutdown.return', 'unknown-command'],
      ['beeper.disable\nINSTCMD ups1 load.off', 'invalid-command-name'],
    ];
    for (const [payload, error] of refused) {
      send('nut/ups1/command', payload);
      expect(responses.at(-1)?.response).toMatchObject({ status: 'error', error });
    }
    expect(supervisor.instcmds).toHaveLength(1);
  });

  it('reports what upsd said when the command fails', async () => {
    const { supervisor, responses, send } = setup();
    send('nut/ups1/command', 'beeper.disable');
    const error = Object.assign(new Error('upsd: ERR ACCESS-DENIED'), { code: 'ACCESS-DENIED' });
    supervisor.instcmds[0]?.done.reject(error);
    await flush();
    expect(responses[0]?.response).toMatchObject({ status: 'error', error: 'instcmd-failed' });
    expect(responses[0]?.response.detail).toContain('ACCESS-DENIED');
  });

  it.each<[string, InstcmdResult, Record<string, unknown>]>([
    ['SUCCESS', { outcome: 'success', trackingId: 'a' }, { status: 'ok' }],
    [
      'ERR FAILED',
      { outcome: 'failed', trackingId: 'a', code: 'FAILED' },
      { status: 'error', error: 'instcmd-failed', detail: 'FAILED' },
    ],
    [
      'ERR INVALID-ARGUMENT',
      { outcome: 'failed', trackingId: 'a', code: 'INVALID-ARGUMENT' },
      { status: 'error', error: 'instcmd-failed', detail: 'INVALID-ARGUMENT' },
    ],
    [
      'still PENDING at the limit',
      { outcome: 'timeout', trackingId: 'a', waitedMs: 10_400 },
      { status: 'error', error: 'instcmd-timeout', detail: 'still PENDING after 10 s' },
    ],
    [
      'SET TRACKING refused (not sent)',
      { outcome: 'tracking-refused', code: 'UNKNOWN-COMMAND' },
      { status: 'error', error: 'instcmd-failed', detail: 'SET TRACKING refused: UNKNOWN-COMMAND' },
    ],
    ['untracked on NUT < 2.8.1 (accepted)', { outcome: 'untracked', trackingRefused: 'X' }, { status: 'ok' }],
  ])('answers the tracked result %s', async (_what, result, expected) => {
    const { supervisor, responses, send } = setup();
    send('nut/ups1/command', 'beeper.disable');
    supervisor.instcmds[0]?.done.resolve(result);
    await flush();
    expect(responses).toHaveLength(1);
    expect(responses[0]?.response).toMatchObject({ command: 'beeper.disable', ...expected });
    if (expected.status === 'ok') expect(responses[0]?.response).not.toHaveProperty('error');
  });

  it('refuses unknown UPSes, junk and oversized payloads, and ignores retained commands', () => {
    const { supervisor, responses, send } = setup();
    send('nut/nope/command', 'restart');
    expect(responses.at(-1)).toEqual({
      topic: 'nut/nope/command/response',
      response: { status: 'error', command: 'restart', error: 'unknown-ups', duration_ms: 0 },
    });
    send('nut/ups1/command', Buffer.from([0xff, 0xfe]));
    expect(responses.at(-1)?.response).toEqual({ status: 'error', error: 'invalid-utf8', duration_ms: 0 });
    send('nut/ups1/command', 'restart'.padEnd(2000));
    expect(responses.at(-1)?.response.error).toBe('payload-too-large');
    send('nut/bridge/command', 'restart');
    expect(responses.at(-1)?.response.error).toBe('unknown-command');
    const count = responses.length;
    send('nut/ups1/command', 'restart', true);
    expect(responses).toHaveLength(count);
    expect(supervisor.restarts).toEqual([]);
  });
});

describe('LogLimiter', () => {
  it('lets a few through per window and reports how many it swallowed', () => {
    let now = 0;
    const limiter = new LogLimiter({ windowMs: 1000, maxPerWindow: 2, now: () => now });
    expect(limiter.take('a')).toEqual({ log: true, suppressed: 0 });
    expect(limiter.take('a')).toEqual({ log: true, suppressed: 0 });
    expect(limiter.take('a').log).toBe(false);
    expect(limiter.take('a').log).toBe(false);
    expect(limiter.take('b').log).toBe(true);
    now = 1000;
    expect(limiter.take('a')).toEqual({ log: true, suppressed: 2 });
    expect(limiter.take('a')).toEqual({ log: true, suppressed: 0 });
  });
});
