import { describe, expect, it } from 'vitest';
import { COMMAND_ERROR_CODES, isValidCommandName } from '../../src/api/commands.js';
import {
  classifyBridgeCommand,
  classifyCommand,
  commandResponse,
  parseCommand,
} from '../../src/mqtt/commands.js';

const text = (s: string) => Buffer.from(s, 'utf8');
const json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');

describe('parseCommand: accepted input', () => {
  it('reads plain-text commands', () => {
    expect(parseCommand(text('restart'))).toEqual({ ok: true, command: 'restart' });
    expect(parseCommand(text('restart-upsd'))).toEqual({ ok: true, command: 'restart-upsd' });
    expect(parseCommand(text('beeper.disable'))).toEqual({ ok: true, command: 'beeper.disable' });
    expect(parseCommand(text('test.battery.start.quick'))).toEqual({
      ok: true,
      command: 'test.battery.start.quick',
    });
    expect(parseCommand(text('load.off.delay'))).toEqual({ ok: true, command: 'load.off.delay' });
    expect(parseCommand(text('driver.reload-or-exit'))).toEqual({
      ok: true,
      command: 'driver.reload-or-exit',
    });
    expect(parseCommand(text('outlet.1.load.off'))).toEqual({ ok: true, command: 'outlet.1.load.off' });
  });

  it('ignores surrounding whitespace (a trailing newline from a shell)', () => {
    expect(parseCommand(text('restart\n'))).toEqual({ ok: true, command: 'restart' });
    expect(parseCommand(text('  beeper.toggle \r\n'))).toEqual({ ok: true, command: 'beeper.toggle' });
    expect(parseCommand(text('\uFEFFrestart'))).toEqual({ ok: true, command: 'restart' });
  });

  it('reads JSON with a string or numeric transaction, and ignores unknown keys', () => {
    expect(parseCommand(json({ command: 'restart', transaction: 'any' }))).toEqual({
      ok: true,
      command: 'restart',
      transaction: 'any',
    });
    expect(parseCommand(json({ command: 'beeper.disable', transaction: 42 }))).toEqual({
      ok: true,
      command: 'beeper.disable',
      transaction: 42,
    });
    expect(parseCommand(json({ command: 'restart' }))).toEqual({ ok: true, command: 'restart' });
    expect(parseCommand(json({ command: 'restart', extra: { nested: [1, 2] } }))).toEqual({
      ok: true,
      command: 'restart',
    });
    expect(parseCommand(text('  {"command":"restart"}\n'))).toEqual({ ok: true, command: 'restart' });
  });

  it('accepts exactly the size limit and honours a custom one', () => {
    const frame = '{"command":"restart","pad":""}';
    const atLimit = Buffer.from(`{"command":"restart","pad":"${'x'.repeat(1024 - frame.length)}"}`);
    expect(atLimit.length).toBe(1024);
    expect(parseCommand(atLimit)).toEqual({ ok: true, command: 'restart' });
    expect(parseCommand(text('restart'), { maxBytes: 6 })).toEqual({ ok: false, error: 'payload-too-large' });
    expect(parseCommand(text('restart'), { maxBytes: 7 })).toEqual({ ok: true, command: 'restart' });
  });
});

describe('parseCommand: bad input is an error result, never a throw', () => {
  it('refuses oversized payloads (> 1 KiB) before decoding them', () => {
    expect(parseCommand(Buffer.alloc(1025, 'a'))).toEqual({ ok: false, error: 'payload-too-large' });
    expect(parseCommand(Buffer.alloc(1024 * 1024, 0xff))).toEqual({ ok: false, error: 'payload-too-large' });
  });

  it('refuses empty and whitespace-only payloads', () => {
    expect(parseCommand(Buffer.alloc(0))).toEqual({ ok: false, error: 'empty-payload' });
    expect(parseCommand(text(' \n\t '))).toEqual({ ok: false, error: 'empty-payload' });
  });

  it('refuses binary junk and invalid UTF-8', () => {
    expect(parseCommand(Buffer.from([0xff, 0xfe, 0xfd]))).toEqual({ ok: false, error: 'invalid-utf8' });
    expect(parseCommand(Buffer.from([0x72, 0x65, 0xc3]))).toEqual({ ok: false, error: 'invalid-utf8' }); // truncated
    expect(parseCommand(Buffer.from([0xed, 0xa0, 0x80]))).toEqual({ ok: false, error: 'invalid-utf8' }); // surrogate
    // Valid UTF-8 but binary: control bytes are not a command name.
    expect(parseCommand(Buffer.from([0x00, 0x01, 0x02, 0x72]))).toEqual({
      ok: false,
      error: 'invalid-command-name',
    });
  });

  it('refuses malformed JSON', () => {
    for (const bad of [
      '{',
      '{"command":',
      '{command: "restart"}',
      "{'command':'restart'}",
      '[1,',
      '{"a":1}}',
    ]) {
      expect(parseCommand(text(bad)), bad).toEqual({ ok: false, error: 'malformed-json' });
    }
  });

  it('refuses JSON nested deeper than 3 levels, including pathological nesting', () => {
    expect(parseCommand(json({ command: 'restart', a: { b: { c: 1 } } }))).toEqual({
      ok: true,
      command: 'restart',
    });
    expect(parseCommand(json({ command: 'restart', a: { b: { c: {} } } }))).toEqual({
      ok: false,
      error: 'json-too-deep',
    });
    expect(parseCommand(text(`${'['.repeat(500)}${']'.repeat(500)}`))).toEqual({
      ok: false,
      error: 'json-too-deep',
    });
    expect(parseCommand(text(`${'{"a":'.repeat(150)}1${'}'.repeat(150)}`))).toEqual({
      ok: false,
      error: 'json-too-deep',
    });
  });

  it('refuses JSON that is not an object', () => {
    expect(parseCommand(text('["restart"]'))).toEqual({ ok: false, error: 'json-not-object' });
    expect(parseCommand(text('[]'))).toEqual({ ok: false, error: 'json-not-object' });
  });

  it('refuses wrong types and missing fields, echoing a valid transaction', () => {
    expect(parseCommand(json({}))).toEqual({ ok: false, error: 'missing-command' });
    expect(parseCommand(json({ transaction: 't1' }))).toEqual({
      ok: false,
      error: 'missing-command',
      transaction: 't1',
    });
    for (const command of [42, true, null, ['restart'], { name: 'restart' }]) {
      expect(parseCommand(json({ command, transaction: 7 })), JSON.stringify(command)).toEqual({
        ok: false,
        error: 'invalid-command-type',
        transaction: 7,
      });
    }
  });

  it('refuses transactions that are not a short string or a finite number', () => {
    for (const transaction of [null, true, { id: 1 }, [1], 'x'.repeat(129)]) {
      expect(parseCommand(json({ command: 'restart', transaction })), JSON.stringify(transaction)).toEqual({
        ok: false,
        error: 'invalid-transaction',
      });
    }
    // 1e999 parses to Infinity, which JSON cannot echo.
    expect(parseCommand(text('{"command":"restart","transaction":1e999}'))).toEqual({
      ok: false,
      error: 'invalid-transaction',
    });
    expect(parseCommand(json({ command: 'restart', transaction: 'x'.repeat(128) }))).toMatchObject({
      ok: true,
    });
  });

  it('refuses command names with whitespace, control characters, shell metacharacters or newlines', () => {
    const hostile = [
      'beeper.disable\nINSTCMD ups load.off',
      'beeper.disable\r\nLOGOUT',
      'beeper disable',
      'beeper.disable;reboot',
      'beeper.disable && rm -rf /',
      '$(reboot)',
      '`reboot`',
      'load.off|cat',
      'load.off>x',
      '"load.off"',
      "load.off'",
      'load.off\u0000',
      'load\t.off',
      'Load.Off',
      'RESTART',
      '.load.off',
      'load.off.',
      'load..off',
      '-load.off',
      'load.-off',
      'load_off',
      'lööd.off',
      'load\u2028.off',
      'x'.repeat(65),
    ];
    for (const name of hostile) {
      expect(parseCommand(text(name)), JSON.stringify(name)).toEqual({
        ok: false,
        error: 'invalid-command-name',
      });
      expect(parseCommand(json({ command: name, transaction: 'tx' })), JSON.stringify(name)).toEqual({
        ok: false,
        error: 'invalid-command-name',
        transaction: 'tx',
      });
    }
    // In plain text surrounding whitespace is trimmed; inside JSON the string is taken as it is.
    for (const name of ['load.off\t', 'load.off\n', ' load.off', 'load.off\u2028']) {
      expect(parseCommand(json({ command: name })), JSON.stringify(name)).toEqual({
        ok: false,
        error: 'invalid-command-name',
      });
    }
  });

  it('never throws on random bytes', () => {
    let seed = 1;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 500; i++) {
      const bytes = Buffer.from(Array.from({ length: random() % 64 }, () => random() % 256));
      const result = parseCommand(bytes);
      if (!result.ok) expect(COMMAND_ERROR_CODES).toContain(result.error);
      else expect(isValidCommandName(result.command)).toBe(true);
    }
  });
});

describe('classifyCommand', () => {
  const lists = {
    allowed: ['beeper.disable', 'beeper.enable', 'test.battery.start.quick'],
    listed: ['beeper.disable', 'load.off', 'test.battery.start.quick'],
  };

  it('restart is always a driver restart, whatever the lists say', () => {
    expect(classifyCommand('restart', lists)).toEqual({ ok: true, kind: 'restart' });
    expect(classifyCommand('restart', { allowed: ['restart'], listed: ['restart'] })).toEqual({
      ok: true,
      kind: 'restart',
    });
  });

  it('an instant command must be allowed AND listed by the UPS', () => {
    expect(classifyCommand('beeper.disable', lists)).toEqual({
      ok: true,
      kind: 'instcmd',
      command: 'beeper.disable',
    });
    expect(classifyCommand('test.battery.start.quick', lists)).toEqual({
      ok: true,
      kind: 'instcmd',
      command: 'test.battery.start.quick',
    });
    expect(classifyCommand('load.off', lists)).toEqual({ ok: false, error: 'instcmd-not-allowed' });
    expect(classifyCommand('beeper.enable', lists)).toEqual({ ok: false, error: 'instcmd-not-supported' });
    expect(classifyCommand('beeper.enable', { allowed: lists.allowed, listed: [] })).toEqual({
      ok: false,
      error: 'instcmd-not-supported',
    });
    expect(classifyCommand('shutdown.stayoff', lists)).toEqual({ ok: false, error: 'unknown-command' });
    expect(classifyCommand('restart-upsd', lists)).toEqual({ ok: false, error: 'unknown-command' });
  });

  it('re-checks the name, even when a bad name is in both lists', () => {
    const bad = 'beeper.disable\nINSTCMD ups load.off';
    expect(classifyCommand(bad, { allowed: [bad], listed: [bad] })).toEqual({
      ok: false,
      error: 'invalid-command-name',
    });
    expect(classifyCommand('', lists)).toEqual({ ok: false, error: 'invalid-command-name' });
  });
});

describe('classifyBridgeCommand', () => {
  it('knows only restart-upsd', () => {
    expect(classifyBridgeCommand('restart-upsd')).toEqual({ ok: true, kind: 'restart-upsd' });
    expect(classifyBridgeCommand('restart')).toEqual({ ok: false, error: 'unknown-command' });
    expect(classifyBridgeCommand('beeper.disable')).toEqual({ ok: false, error: 'unknown-command' });
    expect(classifyBridgeCommand('restart upsd')).toEqual({ ok: false, error: 'invalid-command-name' });
  });
});

describe('commandResponse', () => {
  it('builds an ok reply with command, transaction and a rounded duration', () => {
    const reply = commandResponse(
      { status: 'ok' },
      { command: 'restart', transaction: 'any', durationMs: 3120.4 },
    );
    expect(reply).toEqual({ status: 'ok', command: 'restart', transaction: 'any', duration_ms: 3120 });
    expect(JSON.stringify(reply)).toBe(
      '{"status":"ok","command":"restart","transaction":"any","duration_ms":3120}',
    );
  });

  it('builds an error reply, leaving out what is unknown', () => {
    expect(commandResponse({ status: 'error', error: 'malformed-json' }, {})).toEqual({
      status: 'error',
      error: 'malformed-json',
    });
    expect(
      commandResponse(
        { status: 'error', error: 'instcmd-failed', detail: 'ACCESS-DENIED' },
        { command: 'beeper.disable', transaction: 5, durationMs: 12 },
      ),
    ).toEqual({
      status: 'error',
      command: 'beeper.disable',
      transaction: 5,
      error: 'instcmd-failed',
      detail: 'ACCESS-DENIED',
      duration_ms: 12,
    });
    expect(commandResponse({ status: 'ok' }, { durationMs: Number.NaN })).toEqual({ status: 'ok' });
  });

  it('wires parse → response for every parse error with the transaction echoed', () => {
    const parsed = parseCommand(json({ command: 'x y', transaction: 'abc' }));
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(
      commandResponse({ status: 'error', error: parsed.error }, { transaction: parsed.transaction }),
    ).toEqual({
      status: 'error',
      transaction: 'abc',
      error: 'invalid-command-name',
    });
  });

  it('documents stable, kebab-case error codes including the execution ones', () => {
    for (const code of COMMAND_ERROR_CODES) expect(code).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    expect(COMMAND_ERROR_CODES).toEqual(
      expect.arrayContaining([
        'unknown-ups',
        'cooldown',
        'recovery-failed',
        'payload-too-large',
        'malformed-json',
      ]),
    );
    expect(new Set(COMMAND_ERROR_CODES).size).toBe(COMMAND_ERROR_CODES.length);
  });
});
