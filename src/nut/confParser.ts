/**
 * Parsers for NUT's ups.conf(5) and upsd.conf(5). Pure: text in, data out, no I/O.
 *
 * The word splitting follows NUT's parseconf: `#` starts a comment (outside quotes), words are split on
 * whitespace, `"…"` quotes a word (backslash escapes inside), a backslash outside quotes takes the next character
 * literally, a backslash at the end of a line joins the next line, and `=` is a word of its own, so `key=value`
 * and `key = value` are the same. Where NUT silently ignores or truncates (an unquoted value with spaces keeps
 * only its first word, an incomplete UPS section is skipped), we fail with an error that names the file, the line
 * and the key, because the agent would otherwise supervise something different from what the user wrote.
 */

export class NutConfigError extends Error {
  readonly file: string;
  readonly line?: number;
  readonly key?: string;

  constructor(detail: string, where: { file: string; line?: number; key?: string }) {
    const at = where.line === undefined ? where.file : `${where.file}:${where.line}`;
    super(`${at}: ${detail}${where.key === undefined ? '' : ` (key "${where.key}")`}`);
    this.name = 'NutConfigError';
    this.file = where.file;
    if (where.line !== undefined) this.line = where.line;
    if (where.key !== undefined) this.key = where.key;
  }
}

/** One logical line: its words and the physical line it starts on. */
interface Statement {
  line: number;
  words: string[];
}

const isSpace = (ch: string): boolean =>
  ch === ' ' || ch === '\t' || ch === '\r' || ch === '\v' || ch === '\f';
/** NUT drops control characters inside words (CVE-2012-2944); so do we. */
const isControl = (ch: string): boolean => ch.charCodeAt(0) < 0x20;

function tokenize(input: string, file: string): Statement[] {
  const text = input.replace(/^\uFEFF/, '').replace(/\r\n/g, '\n');
  const out: Statement[] = [];
  let line = 1;
  let start = 1;
  let words: string[] = [];
  let word: string | undefined;

  const begin = (): void => {
    if (word === undefined && words.length === 0) start = line;
  };
  const endWord = (): void => {
    if (word !== undefined) words.push(word);
    word = undefined;
  };
  const endStatement = (): void => {
    endWord();
    if (words.length > 0) out.push({ line: start, words });
    words = [];
  };

  for (let i = 0; i < text.length; i++) {
    const ch = text.charAt(i);
    if (ch === '\n') {
      endStatement();
      line++;
    } else if (ch === '#') {
      endWord();
      while (i + 1 < text.length && text.charAt(i + 1) !== '\n') i++;
    } else if (isSpace(ch)) {
      endWord();
    } else if (ch === '\\') {
      begin();
      const next = text.charAt(++i);
      if (next === '\n')
        line++; // line continuation: the logical line goes on
      else if (next !== '' && !isControl(next)) word = (word ?? '') + next;
    } else if (ch === '=') {
      begin();
      endWord();
      words.push('=');
    } else if (ch === '"' && word === undefined) {
      begin();
      const quoted = readQuoted(text, i, { file, line, key: words[0] });
      words.push(quoted.value);
      i = quoted.end;
      line += quoted.newlines;
    } else if (!isControl(ch)) {
      begin();
      word = (word ?? '') + ch;
    }
  }
  endStatement();
  return out;
}

/**
 * The double-quoted word whose opening quote is at `open`: its value, the index of the closing quote, and the
 * escaped newlines inside it (the logical line goes on).
 */
function readQuoted(
  text: string,
  open: number,
  where: { file: string; line: number; key: string | undefined },
): { value: string; end: number; newlines: number } {
  let value = '';
  let newlines = 0;
  for (let i = open + 1; ; i++) {
    const c = text.charAt(i);
    if (c === '' || c === '\n') throw new NutConfigError('unterminated double quote', where);
    if (c === '"') return { value, end: i, newlines };
    if (c === '\\') {
      const next = text.charAt(++i);
      if (next === '\n') newlines++;
      else if (next !== '' && !isControl(next)) value += next;
    } else if (!isControl(c)) {
      value += c;
    }
  }
}

type Value = string | true;

/** `key`, `key = value` (also `key=value`). Anything else is an error naming the line. */
function assignment(st: Statement, file: string): [string, Value] {
  const [key, op, value, ...extra] = st.words;
  if (key === undefined || key === '=')
    throw new NutConfigError('line does not start with a key', { file, line: st.line });
  if (op === undefined) return [key, true];
  if (op !== '=')
    throw new NutConfigError(`expected "${key} = value" or a lone flag "${key}"`, {
      file,
      line: st.line,
      key,
    });
  if (value === undefined) throw new NutConfigError('missing value after "="', { file, line: st.line, key });
  if (extra.length > 0) {
    throw new NutConfigError(`value has several words; quote it: ${key} = "${[value, ...extra].join(' ')}"`, {
      file,
      line: st.line,
      key,
    });
  }
  return [key, value];
}

export interface UpsConfEntry {
  name: string;
  driver: string;
  port: string;
  desc?: string;
  /** Every other key of the section; bare flags (e.g. `nolock`) are `true`. */
  options: Record<string, string | true>;
  /** Line of the `[name]` header. */
  line: number;
}

export interface UpsConf {
  /** Keys before the first section (user, pollinterval, maxretry, …). */
  global: Record<string, string | true>;
  upses: UpsConfEntry[];
}

/** NUT's own rule is looser in places; these are the characters that work everywhere (sockets, upsc, MQTT). */
const SECTION_NAME = /^[A-Za-z0-9_.-]+$/;

type Section = { name: string; line: number; keys: Record<string, Value> };

export function parseUpsConf(text: string, file = 'ups.conf'): UpsConf {
  const global: Record<string, Value> = {};
  const sections: Section[] = [];
  let current: Record<string, Value> = global;
  for (const st of tokenize(text, file)) {
    if ((st.words[0] ?? '').startsWith('[')) {
      const section = sectionHeader(st, file, sections);
      sections.push(section);
      current = section.keys;
      continue;
    }
    const [key, value] = assignment(st, file);
    current[key] = value;
  }
  if (sections.length === 0)
    throw new NutConfigError('no UPS defined (expected at least one [name] section)', { file });
  return { global, upses: sections.map((section) => upsEntry(section, file)) };
}

/** `[name]` alone on its line, a usable name, not seen before. */
function sectionHeader(st: Statement, file: string, seen: readonly Section[]): Section {
  const first = st.words[0] ?? '';
  const where = { file, line: st.line };
  if (!first.endsWith(']') || st.words.length > 1) {
    throw new NutConfigError(
      `bad section header ${st.words.join(' ')} (expected [name] alone on the line)`,
      where,
    );
  }
  const name = first.slice(1, -1);
  if (!SECTION_NAME.test(name))
    throw new NutConfigError(`bad UPS name [${name}]: use letters, digits, "_", "." and "-"`, where);
  // upsd compares UPS names case-insensitively and refuses the second one.
  const dup = seen.find((s) => s.name.toLowerCase() === name.toLowerCase());
  if (dup) throw new NutConfigError(`duplicate section [${name}] (first defined on line ${dup.line})`, where);
  return { name, line: st.line, keys: {} };
}

/** A section as a UPS: driver and port required, desc optional, the rest driver options. */
function upsEntry({ name, line, keys }: Section, file: string): UpsConfEntry {
  const required = (key: 'driver' | 'port'): string => {
    const value = keys[key];
    if (value === undefined) throw new NutConfigError(`UPS [${name}] has no ${key}`, { file, line, key });
    if (value === true || value === '') {
      throw new NutConfigError(`UPS [${name}]: ${key} needs a value`, { file, line, key });
    }
    return value;
  };
  const { driver, port, desc, ...options } = keys;
  if (desc === true)
    throw new NutConfigError(`UPS [${name}]: desc needs a value`, { file, line, key: 'desc' });
  return {
    name,
    driver: required('driver'),
    port: required('port'),
    ...(desc === undefined ? {} : { desc }),
    options,
    line,
  };
}

export interface UpsdConf {
  listen: Array<{ host: string; port: number }>;
  maxAge?: number;
  statePath?: string;
  maxConn?: number;
  /** Every other directive with its arguments (last occurrence wins). upsd keywords are case-sensitive. */
  other: Record<string, string[]>;
}

/** upsd's compiled-in port. */
const NUT_DEFAULT_PORT = 3493;

function positiveInt(
  raw: string | undefined,
  what: string,
  st: Statement,
  file: string,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const n = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= 1 && n <= max)) {
    throw new NutConfigError(
      `${what} must be a whole number from 1 to ${max}, got ${JSON.stringify(raw ?? '')}`,
      {
        file,
        line: st.line,
        key: st.words[0],
      },
    );
  }
  return n;
}

export function parseUpsdConf(text: string, file = 'upsd.conf'): UpsdConf {
  const conf: UpsdConf = { listen: [], other: {} };
  for (const st of tokenize(text, file)) {
    const [key = '', ...args] = st.words;
    const arity = (min: number, max: number): void => {
      if (args.length < min || args.length > max) {
        const want = min === max ? `${min}` : `${min} to ${max}`;
        throw new NutConfigError(`${key} takes ${want} argument(s), got ${args.length}`, {
          file,
          line: st.line,
          key,
        });
      }
    };
    switch (key) {
      case 'LISTEN': {
        arity(1, 2);
        const host = args[0] ?? '';
        if (host === '' || host === '=')
          throw new NutConfigError('LISTEN needs an address', { file, line: st.line, key });
        const port =
          args[1] === undefined ? NUT_DEFAULT_PORT : positiveInt(args[1], 'LISTEN port', st, file, 65535);
        conf.listen.push({ host, port });
        break;
      }
      case 'MAXAGE':
        arity(1, 1);
        conf.maxAge = positiveInt(args[0], 'MAXAGE', st, file);
        break;
      case 'MAXCONN':
        arity(1, 1);
        conf.maxConn = positiveInt(args[0], 'MAXCONN', st, file);
        break;
      case 'STATEPATH':
        arity(1, 1);
        conf.statePath = args[0] as string;
        break;
      default:
        conf.other[key] = args;
    }
  }
  return conf;
}

/** Where the agent connects to upsd: the first LISTEN, with wildcard addresses turned into loopback. */
export function clientAddress(conf: UpsdConf): { host: string; port: number } {
  const first = conf.listen[0];
  if (!first) return { host: '127.0.0.1', port: NUT_DEFAULT_PORT };
  const host = first.host === '0.0.0.0' ? '127.0.0.1' : first.host === '::' ? '::1' : first.host;
  return { host, port: first.port };
}
