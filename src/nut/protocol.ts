/**
 * The NUT line protocol (RFC 9271) as pure functions and small I/O-free state machines: tokenizing reply lines,
 * building request lines safely, and interpreting replies. A driver's unix socket uses the same quoting
 * (driverLine.ts); both read their sockets through lineReader.ts.
 */
import { NutArgumentError, NutError, NutProtocolError } from './errors.js';

// ---------------------------------------------------------------------------------------------------------
// Tokenizing

/**
 * Splits a line into words the way NUT's parser does: blanks separate words, `"…"` groups a word that may hold
 * blanks, and a backslash takes the next character literally (so `\"` and `\\` inside quotes).
 * An unterminated quote or a trailing lone backslash is a protocol error.
 */
export function tokenize(line: string): string[] {
  // Hot path (every reply line of every poll): slice runs between quotes and escapes instead of growing a
  // string one character at a time.
  const tokens: string[] = [];
  const n = line.length;
  let i = 0;
  while (i < n) {
    if (isBlankCode(line.charCodeAt(i))) {
      i++;
      continue;
    }
    let token = '';
    let runStart = i;
    let inQuotes = false;
    while (i < n) {
      const c = line.charCodeAt(i);
      if (c === BACKSLASH) {
        if (i + 1 >= n) throw new NutProtocolError('dangling backslash', line);
        token += line.slice(runStart, i) + line[i + 1];
        i += 2;
        runStart = i;
      } else if (c === QUOTE) {
        token += line.slice(runStart, i);
        inQuotes = !inQuotes;
        i++;
        runStart = i;
      } else if (!inQuotes && isBlankCode(c)) {
        break;
      } else {
        i++;
      }
    }
    if (inQuotes) throw new NutProtocolError('unterminated quoted string', line);
    tokens.push(token + line.slice(runStart, i));
  }
  return tokens;
}

const BACKSLASH = 0x5c;
const QUOTE = 0x22;

function isBlankCode(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

// ---------------------------------------------------------------------------------------------------------
// Building requests: the injection guard. Anything that reaches us from MQTT ends up here, and a CR/LF would
// let it smuggle a second command (`beeper.disable\nINSTCMD ups load.off`), so control characters are refused.

// A NUT name (UPS, variable, command, user) travels unquoted: no blanks, quotes or backslashes.
const NAME = /^[^\s"\\]+$/;
const COMMAND = /^[A-Z]+(?: [A-Z]+)*$/;

/** C0 controls (NUL, CR, LF, TAB, ESC…) and DEL. */
function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function assertName(name: string, what = 'name'): void {
  if (typeof name !== 'string' || name.length === 0) throw new NutArgumentError(`${what} must not be empty`);
  if (hasControlChar(name)) throw new NutArgumentError(`${what} contains a control character`);
  if (!NAME.test(name)) throw new NutArgumentError(`${what} must not contain blanks, quotes or backslashes`);
}

function assertValue(value: string, what = 'value'): void {
  if (typeof value !== 'string') throw new NutArgumentError(`${what} must be a string`);
  if (hasControlChar(value)) throw new NutArgumentError(`${what} contains a control character`);
}

/** Quotes a value for the wire, escaping `\` and `"`. */
export function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * Builds one request line (with its LF). `command` is our own keyword(s), e.g. `GET VAR`; `names` are sent bare
 * after validation; `values` are always quoted. Throws NutArgumentError rather than sending anything doubtful.
 */
export function buildRequest(
  command: string,
  names: readonly string[] = [],
  values: readonly string[] = [],
): string {
  if (!COMMAND.test(command))
    throw new NutArgumentError(`invalid command keyword ${JSON.stringify(command)}`);
  for (const n of names) assertName(n);
  for (const v of values) assertValue(v);
  return `${[command, ...names, ...values.map(quote)].join(' ')}\n`;
}

/** The request as it may appear in logs and error messages: no LF, and never a password. */
export function maskRequest(line: string): string {
  if (line.startsWith('PASSWORD')) return /^PASSWORD\b/.test(line) ? 'PASSWORD ***' : line.replace(/\n$/, '');
  return line.endsWith('\n') ? line.slice(0, -1) : line;
}

// ---------------------------------------------------------------------------------------------------------
// Interpreting upsd replies. A reader is created per request and fed that request's lines in order; it throws
// NutError for `ERR …` and NutProtocolError for anything that is not the expected reply.

export type ReplyStep<T> = { done: false } | { done: true; value: T };

export interface ReplyReader<T> {
  read(line: string): ReplyStep<T>;
}

const MORE: ReplyStep<never> = { done: false };

/** `ERR <CODE> [detail…]` → NutError; any other line → undefined. */
export function parseErr(tokens: readonly string[], line = tokens.join(' ')): NutError | undefined {
  if (tokens[0] !== 'ERR') return undefined;
  const code = tokens[1];
  if (!code) throw new NutProtocolError('ERR without a code', line);
  const detail = tokens.slice(2).join(' ');
  return new NutError(code, detail === '' ? undefined : detail);
}

function startsWith(tokens: readonly string[], prefix: readonly string[]): boolean {
  return prefix.every((p, i) => tokens[i] === p);
}

/** A reply of one line: `ERR …` throws NutError; any other line is `parse`d (which throws on a wrong one). */
function oneLine<T>(parse: (tokens: string[], line: string) => T): ReplyReader<T> {
  return {
    read(line) {
      const tokens = tokenize(line);
      const err = parseErr(tokens, line);
      if (err) throw err;
      return { done: true, value: parse(tokens, line) };
    },
  };
}

/** A one-line reply `<prefix…> <n more words>`; returns the words after the prefix. */
export function lineReply(prefix: readonly string[], extraWords: number): ReplyReader<string[]> {
  return oneLine((tokens, line) => {
    if (tokens.length !== prefix.length + extraWords || !startsWith(tokens, prefix)) {
      throw new NutProtocolError(`expected "${prefix.join(' ')} …"`, line);
    }
    return tokens.slice(prefix.length);
  });
}

/** `OK`, `OK TRACKING <id>` or `OK Goodbye`. */
export function okReply(): ReplyReader<string> {
  return oneLine((tokens, line) => {
    if (tokens[0] !== 'OK') throw new NutProtocolError('expected OK', line);
    return line;
  });
}

/** upsd's tracking ids are UUIDs; anything else is refused before it is echoed back in GET TRACKING. */
const TRACKING_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;

/** The reply to a tracked INSTCMD: `OK TRACKING <id>`; returns the id. A bare `OK` means upsd did not track it. */
export function trackingIdReply(): ReplyReader<string> {
  return oneLine((tokens, line) => {
    const [ok, tracking, id] = tokens;
    if (tokens.length !== 3 || ok !== 'OK' || tracking !== 'TRACKING' || !id || !TRACKING_ID.test(id)) {
      throw new NutProtocolError('expected "OK TRACKING <id>"', line);
    }
    return id;
  });
}

/** The reply to GET TRACKING: `PENDING` or `SUCCESS`; `ERR <code>` (FAILED, INVALID-ARGUMENT, UNKNOWN…) throws. */
export function trackingStatusReply(): ReplyReader<'PENDING' | 'SUCCESS'> {
  return oneLine((tokens, line) => {
    const word = tokens[0];
    if (tokens.length !== 1 || (word !== 'PENDING' && word !== 'SUCCESS')) {
      throw new NutProtocolError('expected PENDING, SUCCESS or ERR', line);
    }
    return word;
  });
}

/** VER answers free text; only an ERR is special. */
export function textReply(): ReplyReader<string> {
  return {
    read(line) {
      const err = line.startsWith('ERR') ? parseErr(tokenize(line), line) : undefined;
      if (err) throw err;
      return { done: true, value: line };
    },
  };
}

/**
 * `BEGIN LIST <kind> <args…>`, then items `<kind> <args…> <itemWords words>`, then `END LIST <kind> <args…>`.
 * Returns each item's words after the prefix. upsd echoes the arguments as sent, so they must match exactly.
 */
export function listReply(
  kind: string,
  args: readonly string[],
  itemWords: number,
  maxItems: number,
): ReplyReader<string[][]> {
  const begin = ['BEGIN', 'LIST', kind, ...args];
  const end = ['END', 'LIST', kind, ...args];
  const itemPrefix = [kind, ...args];
  // Names travel unquoted and never hold blanks or quotes (buildRequest refuses them), so this text is exact.
  const itemPrefixText = `${itemPrefix.join(' ')} `;
  const items: string[][] = [];
  let started = false;
  return {
    read(line) {
      // Item lines are most of a reply: skip re-tokenizing their known, plain prefix (`VAR ups1 `).
      if (started && line.startsWith(itemPrefixText)) {
        const rest = tokenize(line.slice(itemPrefixText.length));
        if (rest.length === itemWords) {
          if (items.length >= maxItems)
            throw new NutProtocolError(`LIST ${kind} has more than ${maxItems} items`);
          items.push(rest);
          return MORE;
        }
      }
      const tokens = tokenize(line);
      if (!started) {
        const err = parseErr(tokens, line);
        if (err) throw err;
        if (tokens.length !== begin.length || !startsWith(tokens, begin)) {
          throw new NutProtocolError(`expected "${begin.join(' ')}"`, line);
        }
        started = true;
        return MORE;
      }
      if (tokens.length === end.length && startsWith(tokens, end)) return { done: true, value: items };
      if (tokens.length !== itemPrefix.length + itemWords || !startsWith(tokens, itemPrefix)) {
        throw new NutProtocolError(`unexpected line in LIST ${kind}`, line);
      }
      if (items.length >= maxItems)
        throw new NutProtocolError(`LIST ${kind} has more than ${maxItems} items`);
      items.push(tokens.slice(itemPrefix.length));
      return MORE;
    },
  };
}
