/**
 * Parsing and classification of commands received on `<base>/<ups>/command` and `<base>/bridge/command`, and the
 * reply sent on `<command topic>/response`, by the rules of src/api/commands.ts. Everything here is pure: the
 * command handler performs the command.
 */

import {
  type CommandErrorCode,
  type CommandResponse,
  isValidCommandName,
  MAX_COMMAND_BYTES,
  MAX_JSON_DEPTH,
  MAX_TRANSACTION_LENGTH,
  RESTART_COMMAND,
  RESTART_UPSD_COMMAND,
  SELF_TEST_COMMAND,
  SELF_TEST_TYPES,
  type SelfTestType,
  type Transaction,
} from '../api/commands.js';
import type { InstcmdResult } from '../nut/instcmdSession.js';

export type ParsedCommand =
  /** `type`: the JSON object's `type`, as it came (the argument of `self-test`; checked by classifyCommand). */
  | { ok: true; command: string; transaction?: Transaction; type?: unknown }
  | { ok: false; error: CommandErrorCode; transaction?: Transaction };

// fatal: invalid UTF-8 throws instead of turning into U+FFFD, so binary junk is refused rather than guessed at.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses a received command payload. Never throws: every bad input is an error result. */
export function parseCommand(payload: Buffer, opts: { maxBytes?: number } = {}): ParsedCommand {
  const maxBytes = opts.maxBytes ?? MAX_COMMAND_BYTES;
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
  return {
    ok: true,
    command,
    ...withTransaction,
    ...(Object.hasOwn(fields, 'type') ? { type: fields.type } : {}),
  };
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
  | { ok: true; kind: 'self-test'; test: SelfTestType }
  | { ok: true; kind: 'instcmd'; command: string }
  | {
      ok: false;
      error: Extract<
        CommandErrorCode,
        | 'invalid-command-name'
        | 'unknown-command'
        | 'invalid-argument'
        | 'instcmd-not-allowed'
        | 'instcmd-not-supported'
      >;
    };

/**
 * What a command on a UPS's topic asks for. `restart` always means a driver restart, `self-test` a battery test of
 * the kind in `type` (default quick; whether the UPS can run it is the self-test's to say), never instant commands
 * of those names. An instant command must be in the agent's allow-list (`allowed`) AND listed by the UPS
 * (`listed`, from LIST CMD; empty when unknown, which refuses every instant command).
 */
export function classifyCommand(
  command: string,
  lists: { allowed: readonly string[]; listed: readonly string[] },
  args: { type?: unknown } = {},
): UpsCommandClass {
  if (command === RESTART_COMMAND) return { ok: true, kind: 'restart' };
  if (command === SELF_TEST_COMMAND) {
    const test = args.type ?? 'quick';
    return SELF_TEST_TYPES.includes(test as SelfTestType)
      ? { ok: true, kind: 'self-test', test: test as SelfTestType }
      : { ok: false, error: 'invalid-argument' };
  }
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
