/**
 * The lines a NUT driver writes on its unix socket (drivers/dstate.c in NUT 2.8.0): replies (PONG, PID, OK Goodbye)
 * and broadcasts of its state. Same quoting as upsd's protocol (tokenize), except SETINFO broadcasts (below).
 */
import { tokenize } from './protocol.js';

export type DriverLine =
  | { kind: 'PONG' }
  /** Reply to GETPID (NUT 2.8.3+). */
  | { kind: 'PID'; pid: number }
  /** `OK Goodbye`, the reply to LOGOUT (NUT 2.8.3+); the driver closes the connection about a second later. */
  | { kind: 'GOODBYE' }
  | { kind: 'SETINFO'; name: string; value: string }
  | { kind: 'DELINFO'; name: string }
  | { kind: 'ADDCMD'; name: string }
  | { kind: 'DELCMD'; name: string }
  | { kind: 'DATAOK' }
  | { kind: 'DATASTALE' }
  | { kind: 'DUMPDONE' }
  /** Known lines we have no use for: SETFLAGS, SETAUX, ADDENUM, DELENUM, ADDRANGE, DELRANGE, TRACKING. */
  | { kind: 'IGNORED'; verb: string }
  | { kind: 'UNKNOWN'; line: string };

const IGNORED_VERBS = new Set([
  'SETFLAGS',
  'SETAUX',
  'ADDENUM',
  'DELENUM',
  'ADDRANGE',
  'DELRANGE',
  'TRACKING',
]);

export function parseDriverLine(line: string): DriverLine {
  const verb = /^\S*/.exec(line)?.[0] ?? '';
  if (verb === 'SETINFO') return parseSetinfo(line);
  let tokens: string[];
  try {
    tokens = tokenize(line);
  } catch {
    return { kind: 'UNKNOWN', line };
  }
  const name = tokens[1];
  switch (verb) {
    case 'PONG':
    case 'DATAOK':
    case 'DATASTALE':
    case 'DUMPDONE':
      return tokens.length === 1 ? { kind: verb } : { kind: 'UNKNOWN', line };
    case 'DELINFO':
    case 'ADDCMD':
    case 'DELCMD':
      return tokens.length === 2 && name ? { kind: verb, name } : { kind: 'UNKNOWN', line };
    case 'PID':
      return tokens.length === 2 && name && /^[1-9]\d{0,9}$/.test(name)
        ? { kind: 'PID', pid: Number(name) }
        : { kind: 'UNKNOWN', line };
    case 'OK':
      return tokens.length === 2 && name === 'Goodbye' ? { kind: 'GOODBYE' } : { kind: 'UNKNOWN', line };
    default:
      return IGNORED_VERBS.has(verb) ? { kind: 'IGNORED', verb } : { kind: 'UNKNOWN', line };
  }
}

/**
 * `SETINFO <name> "<value>"`. DUMPALL escapes the value, but NUT 2.8.0 broadcasts a changed value WITHOUT
 * escaping it (dstate_setinfo sends the raw string). So: if the quoted text is validly escaped, unescape it;
 * otherwise (a bare `"` or a lone trailing `\`) it can only be a raw broadcast: take it verbatim.
 * (A raw value whose backslashes happen to look like valid escapes is indistinguishable; the next DUMPALL corrects it.)
 */
function parseSetinfo(line: string): DriverLine {
  const m = /^SETINFO[ \t]+(\S+)[ \t]+"(.*)"[ \t]*$/.exec(line);
  const name = m?.[1];
  const quoted = m?.[2];
  if (name === undefined || quoted === undefined || name.includes('"')) return { kind: 'UNKNOWN', line };
  const escaped = /^(?:[^"\\]|\\.)*$/.test(quoted);
  return { kind: 'SETINFO', name, value: escaped ? quoted.replace(/\\(.)/g, '$1') : quoted };
}
