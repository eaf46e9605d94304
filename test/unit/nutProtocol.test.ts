import { describe, expect, it } from 'vitest';
import { parseDriverLine } from '../../src/nut/driverLine.js';
import {
  isNutError,
  NUT_ERROR_CODES,
  NutArgumentError,
  NutClientError,
  NutError,
  NutProtocolError,
} from '../../src/nut/errors.js';
import {
  buildRequest,
  lineReply,
  listReply,
  maskRequest,
  okReply,
  parseErr,
  type ReplyReader,
  textReply,
  tokenize,
} from '../../src/nut/protocol.js';

/** Feeds lines to a reader; returns the value once done, or 'more' if it still waits. */
function feed<T>(reader: ReplyReader<T>, lines: string[]): T | 'more' {
  for (const line of lines) {
    const step = reader.read(line);
    if (step.done) return step.value;
  }
  return 'more';
}

describe('tokenize', () => {
  it('splits on blanks and keeps quoted words whole', () => {
    expect(tokenize('VAR ups1 ups.status "OB DISCHRG LB"')).toEqual([
      'VAR',
      'ups1',
      'ups.status',
      'OB DISCHRG LB',
    ]);
    expect(tokenize('  UPS\tups1   "two  spaces" ')).toEqual(['UPS', 'ups1', 'two  spaces']);
  });

  it('unescapes \\" and \\\\ inside quotes', () => {
    expect(tokenize('VAR u v "say \\"hi\\" C:\\\\dir"')).toEqual(['VAR', 'u', 'v', 'say "hi" C:\\dir']);
  });

  it('keeps an empty quoted string as an empty word', () => {
    expect(tokenize('VAR ups1 ups.test.result ""')).toEqual(['VAR', 'ups1', 'ups.test.result', '']);
    expect(tokenize('""')).toEqual(['']);
  });

  it('returns no words for an empty or blank line', () => {
    expect(tokenize('')).toEqual([]);
    expect(tokenize('   ')).toEqual([]);
  });

  it('rejects an unterminated quote and a dangling backslash', () => {
    expect(() => tokenize('VAR u v "open')).toThrow(NutProtocolError);
    expect(() => tokenize('VAR u v "x\\')).toThrow(NutProtocolError);
  });
});

describe('buildRequest', () => {
  it('joins keywords and names, quotes and escapes values, ends with LF', () => {
    expect(buildRequest('VER')).toBe('VER\n');
    expect(buildRequest('GET VAR', ['ups1', 'ups.status'])).toBe('GET VAR ups1 ups.status\n');
    expect(buildRequest('INSTCMD', ['ups1', 'load.off'], ['with space'])).toBe(
      'INSTCMD ups1 load.off "with space"\n',
    );
    expect(buildRequest('PASSWORD', [], ['p"w\\d'])).toBe('PASSWORD "p\\"w\\\\d"\n');
    expect(buildRequest('PASSWORD', [], [''])).toBe('PASSWORD ""\n');
  });

  it('round-trips values through tokenize', () => {
    const value = 'a "b" \\c  d';
    const line = buildRequest('SET VAR', ['u', 'v'], [value]).trimEnd();
    expect(tokenize(line)).toEqual(['SET', 'VAR', 'u', 'v', value]);
  });

  it.each([
    ['a LF smuggling a second command', 'beeper.disable\nINSTCMD ups load.off'],
    ['a CR', 'beeper.disable\rx'],
    ['a NUL', 'beeper\u0000disable'],
    ['an ESC', 'beeper\u001bdisable'],
    ['a DEL', 'beeper\u007fdisable'],
  ])('rejects a name with %s', (_what, name) => {
    expect(() => buildRequest('INSTCMD', ['ups1', name])).toThrow(NutArgumentError);
  });

  it.each([
    ['LF', 'x\nLOGOUT'],
    ['CR', 'x\r'],
    ['NUL', 'x\u0000'],
    ['TAB', 'x\ty'],
  ])('rejects a value containing %s', (_what, value) => {
    expect(() => buildRequest('PASSWORD', [], [value])).toThrow(NutArgumentError);
  });

  it.each([
    ['empty', ''],
    ['blank only', '   '],
    ['with a space', 'ups 1'],
    ['with a quote', 'ups"1'],
    ['with a backslash', 'ups\\1'],
    ['with a non-breaking space', 'ups\u00a01'],
  ])('rejects a name that is %s', (_what, name) => {
    expect(() => buildRequest('LIST VAR', [name])).toThrow(NutArgumentError);
  });

  it('rejects a malformed command keyword', () => {
    expect(() => buildRequest('GET VAR\nLOGOUT')).toThrow(NutArgumentError);
    expect(() => buildRequest('get var')).toThrow(NutArgumentError);
  });

  it('NutArgumentError is a NutClientError', () => {
    expect(() => buildRequest('LIST VAR', [''])).toThrow(NutClientError);
  });
});

describe('maskRequest', () => {
  it('hides passwords and strips the LF', () => {
    expect(maskRequest('PASSWORD "hunter2"\n')).toBe('PASSWORD ***');
    expect(maskRequest('GET VAR ups1 ups.status\n')).toBe('GET VAR ups1 ups.status');
  });
});

describe('ERR replies', () => {
  it.each(NUT_ERROR_CODES)('ERR %s → NutError with that code', (code) => {
    const err = parseErr(tokenize(`ERR ${code}`));
    expect(err).toBeInstanceOf(NutError);
    expect(err?.code).toBe(code);
    expect(err?.detail).toBeUndefined();
    expect(isNutError(err, code)).toBe(true);
  });

  it('keeps the detail and accepts unknown codes', () => {
    const err = parseErr(tokenize('ERR SOMETHING-NEW extra words here'));
    expect(err?.code).toBe('SOMETHING-NEW');
    expect(err?.detail).toBe('extra words here');
  });

  it('is not an error for other lines; ERR without a code is a protocol error', () => {
    expect(parseErr(tokenize('OK'))).toBeUndefined();
    expect(() => parseErr(['ERR'])).toThrow(NutProtocolError);
  });

  it('isNutError distinguishes codes and foreign errors', () => {
    const err = new NutError('DATA-STALE');
    expect(isNutError(err)).toBe(true);
    expect(isNutError(err, 'DATA-STALE')).toBe(true);
    expect(isNutError(err, 'UNKNOWN-UPS')).toBe(false);
    expect(isNutError(new Error('DATA-STALE'))).toBe(false);
  });

  it('attachRequest records the request once and names it in the message', () => {
    const err = new NutError('ACCESS-DENIED').attachRequest('INSTCMD ups1 load.off');
    err.attachRequest('something else');
    expect(err.request).toBe('INSTCMD ups1 load.off');
    expect(err.message).toBe('upsd: ERR ACCESS-DENIED (request: INSTCMD ups1 load.off)');
  });
});

describe('single-line replies', () => {
  it('VAR reply must match the UPS and variable asked for', () => {
    expect(feed(lineReply(['VAR', 'ups1', 'ups.status'], 1), ['VAR ups1 ups.status "WAIT"'])).toEqual([
      'WAIT',
    ]);
    expect(() => feed(lineReply(['VAR', 'ups1', 'ups.status'], 1), ['VAR ups2 ups.status "OL"'])).toThrow(
      NutProtocolError,
    );
    expect(() => feed(lineReply(['VAR', 'ups1', 'ups.status'], 1), ['VAR ups1 ups.load "5"'])).toThrow(
      NutProtocolError,
    );
    expect(() => feed(lineReply(['VAR', 'ups1', 'ups.status'], 1), ['VAR ups1 ups.status'])).toThrow(
      NutProtocolError,
    );
  });

  it('throws NutError for ERR', () => {
    expect(() => feed(lineReply(['VAR', 'u', 'v'], 1), ['ERR DATA-STALE'])).toThrow(NutError);
  });

  it('UPSDESC and NUMLOGINS', () => {
    expect(feed(lineReply(['UPSDESC', 'ups1'], 1), ['UPSDESC ups1 "lab UPS 1"'])).toEqual(['lab UPS 1']);
    expect(feed(lineReply(['NUMLOGINS', 'ups1'], 1), ['NUMLOGINS ups1 0'])).toEqual(['0']);
  });

  it('OK replies, with or without extra words', () => {
    expect(feed(okReply(), ['OK'])).toBe('OK');
    expect(feed(okReply(), ['OK Goodbye'])).toBe('OK Goodbye');
    expect(feed(okReply(), ['OK TRACKING F4F78A1F'])).toBe('OK TRACKING F4F78A1F');
    expect(() => feed(okReply(), ['ERR ACCESS-DENIED'])).toThrow(NutError);
    expect(() => feed(okReply(), ['VAR u v "x"'])).toThrow(NutProtocolError);
  });

  it('VER is free text', () => {
    const ver = 'Network UPS Tools upsd 2.8.0 - http://www.networkupstools.org/';
    expect(feed(textReply(), [ver])).toBe(ver);
    expect(() => feed(textReply(), ['ERR UNKNOWN-COMMAND'])).toThrow(NutError);
  });
});

describe('LIST replies', () => {
  it('parses LIST UPS', () => {
    const items = feed(listReply('UPS', [], 2, 100), [
      'BEGIN LIST UPS',
      'UPS ups1 "CyberPower CP1500PFCLCD (static)"',
      'UPS ups2 ""',
      'END LIST UPS',
    ]);
    expect(items).toEqual([
      ['ups1', 'CyberPower CP1500PFCLCD (static)'],
      ['ups2', ''],
    ]);
  });

  it('parses LIST VAR and waits until END LIST', () => {
    const reader = listReply('VAR', ['ups1'], 2, 100);
    expect(feed(reader, ['BEGIN LIST VAR ups1', 'VAR ups1 ups.status "OB DISCHRG"'])).toBe('more');
    expect(feed(reader, ['VAR ups1 battery.charge "64"', 'END LIST VAR ups1'])).toEqual([
      ['ups.status', 'OB DISCHRG'],
      ['battery.charge', '64'],
    ]);
  });

  it('parses LIST CMD and an empty list', () => {
    expect(
      feed(listReply('CMD', ['u'], 1, 100), ['BEGIN LIST CMD u', 'CMD u load.off', 'END LIST CMD u']),
    ).toEqual([['load.off']]);
    expect(feed(listReply('CMD', ['u'], 1, 100), ['BEGIN LIST CMD u', 'END LIST CMD u'])).toEqual([]);
  });

  it('ERR instead of BEGIN is a NutError', () => {
    expect(() => feed(listReply('VAR', ['nosuch'], 2, 100), ['ERR UNKNOWN-UPS'])).toThrow(NutError);
  });

  it.each([
    ['a BEGIN for another UPS', ['BEGIN LIST VAR ups2']],
    ['an item for another UPS', ['BEGIN LIST VAR ups1', 'VAR ups2 ups.status "OL"']],
    ['an item of another kind', ['BEGIN LIST VAR ups1', 'CMD ups1 load.off']],
    ['an END for another UPS', ['BEGIN LIST VAR ups1', 'END LIST VAR ups2']],
    ['an item with a missing value', ['BEGIN LIST VAR ups1', 'VAR ups1 ups.status']],
    ['an ERR in the middle', ['BEGIN LIST VAR ups1', 'ERR DATA-STALE']],
    ['garbage', ['hello']],
  ])('rejects %s', (_what, lines) => {
    expect(() => feed(listReply('VAR', ['ups1'], 2, 100), lines)).toThrow(NutProtocolError);
  });

  it('rejects more items than allowed', () => {
    const reader = listReply('CMD', ['u'], 1, 2);
    expect(() => feed(reader, ['BEGIN LIST CMD u', 'CMD u a', 'CMD u b', 'CMD u c'])).toThrow(
      /more than 2 items/,
    );
  });
});

describe('parseDriverLine', () => {
  it('parses the lines a driver sends', () => {
    expect(parseDriverLine('PONG')).toEqual({ kind: 'PONG' });
    expect(parseDriverLine('SETINFO ups.status "OB DISCHRG"')).toEqual({
      kind: 'SETINFO',
      name: 'ups.status',
      value: 'OB DISCHRG',
    });
    expect(parseDriverLine('SETINFO x "a \\"q\\" \\\\ b"')).toEqual({
      kind: 'SETINFO',
      name: 'x',
      value: 'a "q" \\ b',
    });
    expect(parseDriverLine('SETINFO ups.test.result ""')).toEqual({
      kind: 'SETINFO',
      name: 'ups.test.result',
      value: '',
    });
    expect(parseDriverLine('DELINFO ups.load')).toEqual({ kind: 'DELINFO', name: 'ups.load' });
    expect(parseDriverLine('ADDCMD load.off')).toEqual({ kind: 'ADDCMD', name: 'load.off' });
    expect(parseDriverLine('DELCMD load.off')).toEqual({ kind: 'DELCMD', name: 'load.off' });
    expect(parseDriverLine('DATAOK')).toEqual({ kind: 'DATAOK' });
    expect(parseDriverLine('DATASTALE')).toEqual({ kind: 'DATASTALE' });
    expect(parseDriverLine('DUMPDONE')).toEqual({ kind: 'DUMPDONE' });
  });

  it('reads an unescaped 2.8.0 broadcast verbatim', () => {
    // NUT 2.8.0 broadcasts a changed value without escaping it.
    expect(parseDriverLine('SETINFO ups.test.result "x "y" z"')).toEqual({
      kind: 'SETINFO',
      name: 'ups.test.result',
      value: 'x "y" z',
    });
  });

  it('ignores known lines it has no use for and flags unknown ones', () => {
    for (const line of [
      'SETFLAGS ups.mfr RW STRING',
      'SETAUX ups.mfr 32',
      'ADDENUM x "1"',
      'TRACKING abc 0',
    ]) {
      expect(parseDriverLine(line).kind).toBe('IGNORED');
    }
    expect(parseDriverLine('HELLO there')).toEqual({ kind: 'UNKNOWN', line: 'HELLO there' });
    expect(parseDriverLine('PONG extra')).toEqual({ kind: 'UNKNOWN', line: 'PONG extra' });
    expect(parseDriverLine('SETINFO broken')).toEqual({ kind: 'UNKNOWN', line: 'SETINFO broken' });
  });
});
