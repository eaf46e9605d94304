/**
 * Parsing and classification of commands received on `<base>/<ups>/command` and `<base>/bridge/command`, and
 * the reply sent on `<command topic>/response`. Everything here is pure: the bridge performs the command.
 *
 * Accepted payloads (UTF-8, at most 1 KiB):
 * - plain text: `restart`, `restart-upsd`, or an instant command name (`beeper.disable`); surrounding
 *   whitespace is ignored, so `mosquitto_pub -l` style trailing newlines work;
 * - a JSON object: `{"command": "restart", "transaction": "any"}`; `transaction` (string ≤ 128 chars or a
 *   number) is echoed in the response; other keys are ignored; nesting deeper than 3 levels is refused.
 *
 * Error codes (the `error` field of a response; stable, machine-readable):
 *
 * | code                    | meaning                                                                  |
 * |-------------------------|--------------------------------------------------------------------------|
 * | `payload-too-large`     | payload over the size limit (1 KiB)                                      |
 * | `empty-payload`         | nothing but whitespace                                                   |
 * | `invalid-utf8`          | the payload is not valid UTF-8 (binary junk)                             |
 * | `malformed-json`        | starts like JSON (`{` or `[`) but does not parse                         |
 * | `json-too-deep`         | JSON nested deeper than 3 levels                                         |
 * | `json-not-object`       | valid JSON, but not an object                                            |
 * | `missing-command`       | JSON object without `command`                                            |
 * | `invalid-command-type`  | `command` is not a string                                                |
 * | `invalid-transaction`   | `transaction` is not a string ≤ 128 chars or a finite number             |
 * | `invalid-command-name`  | not a NUT-style name (`^[a-z0-9][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)*$`, ≤ 64) |
 * | `unknown-command`       | well-formed, but neither `restart` nor allowed nor listed by the UPS     |
 * | `instcmd-not-allowed`   | the UPS lists it, but it is not in the agent's allow-list                |
 * | `instcmd-not-supported` | allowed, but this UPS does not list it (`LIST CMD`)                      |
 * | `unknown-ups`           | the topic names a UPS the agent does not manage                         |
 * | `busy`                  | another command for this UPS is still running                            |
 * | `cooldown`              | a restart was asked for too soon after the last one                      |
 * | `recovery-failed`       | the driver restart did not bring fresh data back                         |
 * | `instcmd-failed`        | upsd refused it, or its TRACKING result was not SUCCESS (`detail`: NUT's word: `FAILED`, `UNKNOWN`, `INVALID-ARGUMENT`, `ACCESS-DENIED`…) |
 * | `instcmd-timeout`       | upsd accepted it, but its TRACKING result was still PENDING at the limit |
 * | `upsd-restart-failed`   | upsd did not come back after a restart                                   |
 * | `timeout`               | the command did not finish in time                                       |
 * | `internal-error`        | anything else (a bug); details are in the agent's log                    |
 */

import type { InstcmdResult } from '../nut/instcmdSession.js';

export const COMMAND_ERROR_CODES = [
  'payload-too-large',
  'empty-payload',
  'invalid-utf8',
  'malformed-json',
  'json-too-deep',
  'json-not-object',
  'missing-command',
  'invalid-command-type',
  'invalid-transaction',
  'invalid-command-name',
  'unknown-command',
  'instcmd-not-allowed',
  'instcmd-not-supported',
  'unknown-ups',
  'busy',
  'cooldown',
  'recovery-failed',
  'instcmd-failed',
  'instcmd-timeout',
  'upsd-restart-failed',
  'timeout',
  'internal-error',
] as const;

export type CommandErrorCode = (typeof COMMAND_ERROR_CODES)[number];

export type Transaction = string | number;

export type ParsedCommand =
  | { ok: true; command: string; transaction?: Transaction }
  | { ok: false; error: CommandErrorCode; transaction?: Transaction };

export const DEFAULT_MAX_COMMAND_BYTES = 1024;
export const MAX_TRANSACTION_LENGTH = 128;
export const MAX_COMMAND_NAME_LENGTH = 64;
const MAX_JSON_DEPTH = 3;

/** Driver restart, on a UPS's command topic. */
export const RESTART_COMMAND = 'restart';
/** upsd restart, on the bridge's command topic. */
export const RESTART_UPSD_COMMAND = 'restart-upsd';

/**
 * NUT instant command names are dot-separated lower-case words, some with hyphens (`test.battery.start.quick`,
 * `load.off.delay`, `driver.reload-or-exit`; see NUT's data/cmdvartab). Anything else — spaces, newlines,
 * quotes, shell metacharacters, upper case — is refused before it gets near upsd's line protocol.
 */
const COMMAND_NAME = /^[a-z0-9][a-z0-9-]*(?:\.[a-z0-9][a-z0-9-]*)*$/;

export function isValidCommandName(name: string): boolean {
  return name.length <= MAX_COMMAND_NAME_LENGTH && COMMAND_NAME.test(name);
}

// fatal: invalid UTF-8 throws instead of turning into U+FFFD, so binary junk is refused rather than guessed at.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses a received command payload. Never throws: every bad input is an error result. */
export function parseCommand(payload: Buffer, opts: { maxBytes?: number } = {}): ParsedCommand {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_COMMAND_BYTES;
  if (payload.length > maxBytes) return { ok: false, error: 'payload-too-large' };
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    return { ok: false, error: 'invalid-utf8' };
  }
  text = text.trim();
  if (text.length === 0) return { ok: false, error: 'empty-payload' };
  if (text.startsWith('{') || text.startsWith('[')) return parseJsonCommand(text);
  return isValidCommandName(text)
    ? { ok: true, command: text }
    : { ok: false, error: 'invalid-command-name' };
}

function parseJsonCommand(text: string): ParsedCommand {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: 'malformed-json' };
  }
  if (jsonDepthExceeds(value, MAX_JSON_DEPTH)) return { ok: false, error: 'json-too-deep' };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: 'json-not-object' };
  }
  const fields = value as Record<string, unknown>;
  // The transaction is checked first so that every later error can still be matched to its request.
  let transaction: Transaction | undefined;
  if (Object.hasOwn(fields, 'transaction')) {
    const raw = fields.transaction;
    const valid =
      (typeof raw === 'string' && raw.length <= MAX_TRANSACTION_LENGTH) ||
      (typeof raw === 'number' && Number.isFinite(raw));
    if (!valid) return { ok: false, error: 'invalid-transaction' };
    transaction = raw as Transaction;
  }
  const withTransaction = transaction === undefined ? {} : { transaction };
  if (!Object.hasOwn(fields, 'command')) return { ok: false, error: 'missing-command', ...withTransaction };
  const command = fields.command;
  if (typeof command !== 'string') return { ok: false, error: 'invalid-command-type', ...withTransaction };
  if (!isValidCommandName(command)) return { ok: false, error: 'invalid-command-name', ...withTransaction };
  return { ok: true, command, ...withTransaction };
}

// Iterative, so a hostile payload cannot exhaust the stack; stops at the first value past the limit.
function jsonDepthExceeds(root: unknown, maxDepth: number): boolean {
  const stack: Array<[unknown, number]> = [[root, 1]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [value, depth] = item;
    if (typeof value !== 'object' || value === null) continue;
    if (depth > maxDepth) return true;
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
  return false;
}

export type UpsCommandClass =
  | { ok: true; kind: 'restart' }
  | { ok: true; kind: 'instcmd'; command: string }
  | {
      ok: false;
      error: Extract<
        CommandErrorCode,
        'invalid-command-name' | 'unknown-command' | 'instcmd-not-allowed' | 'instcmd-not-supported'
      >;
    };

/**
 * What a command on a UPS's topic asks for. `restart` always means a driver restart (never an instant command
 * of that name). An instant command must be in the agent's allow-list (`allowed`) AND listed by the UPS
 * (`listed`, from LIST CMD; empty when unknown, which refuses every instant command).
 */
export function classifyCommand(
  command: string,
  lists: { allowed: readonly string[]; listed: readonly string[] },
): UpsCommandClass {
  if (command === RESTART_COMMAND) return { ok: true, kind: 'restart' };
  if (!isValidCommandName(command)) return { ok: false, error: 'invalid-command-name' };
  const allowed = lists.allowed.includes(command);
  const listed = lists.listed.includes(command);
  if (allowed && listed) return { ok: true, kind: 'instcmd', command };
  if (allowed) return { ok: false, error: 'instcmd-not-supported' };
  if (listed) return { ok: false, error: 'instcmd-not-allowed' };
  return { ok: false, error: 'unknown-command' };
}

export type BridgeCommandClass =
  | { ok: true; kind: 'restart-upsd' }
  | { ok: false; error: Extract<CommandErrorCode, 'invalid-command-name' | 'unknown-command'> };

/** What a command on the bridge's topic asks for; only `restart-upsd` exists. */
export function classifyBridgeCommand(command: string): BridgeCommandClass {
  if (command === RESTART_UPSD_COMMAND) return { ok: true, kind: 'restart-upsd' };
  return isValidCommandName(command)
    ? { ok: false, error: 'unknown-command' }
    : { ok: false, error: 'invalid-command-name' };
}

/** The JSON published on `<command topic>/response`. Absent fields are omitted. */
export interface CommandResponse {
  status: 'ok' | 'error';
  /** The command, only once it passed validation (a refused name is never echoed). */
  command?: string;
  transaction?: Transaction;
  error?: CommandErrorCode;
  /** Extra detail for some errors, e.g. NUT's `ACCESS-DENIED` for `instcmd-failed`. */
  detail?: string;
  duration_ms?: number;
}

export type CommandOutcome = { status: 'ok' } | { status: 'error'; error: CommandErrorCode; detail?: string };

/**
 * The answer to an instant command from its tracked result: `ok` only when the driver reported SUCCESS, or when
 * NUT older than 2.8.1 refused TRACKING and accepted the command untracked (the old behaviour, no better answer).
 */
export function instcmdOutcome(result: InstcmdResult): CommandOutcome {
  switch (result.outcome) {
    case 'success':
    case 'untracked':
      return { status: 'ok' };
    case 'failed':
      return { status: 'error', error: 'instcmd-failed', detail: result.code };
    case 'timeout':
      return {
        status: 'error',
        error: 'instcmd-timeout',
        detail: `still PENDING after ${Math.round(result.waitedMs / 1000)} s`,
      };
    case 'tracking-refused':
      return { status: 'error', error: 'instcmd-failed', detail: `SET TRACKING refused: ${result.code}` };
  }
}

export function commandResponse(
  outcome: CommandOutcome,
  request: { command?: string; transaction?: Transaction; durationMs?: number },
): CommandResponse {
  const response: CommandResponse = { status: outcome.status };
  if (request.command !== undefined) response.command = request.command;
  if (request.transaction !== undefined) response.transaction = request.transaction;
  if (outcome.status === 'error') {
    response.error = outcome.error;
    if (outcome.detail !== undefined) response.detail = outcome.detail;
  }
  if (request.durationMs !== undefined && Number.isFinite(request.durationMs)) {
    response.duration_ms = Math.max(0, Math.round(request.durationMs));
  }
  return response;
}
