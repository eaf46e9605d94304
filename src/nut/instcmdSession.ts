/**
 * One instant command on its own authenticated upsd session, followed to its real result with TRACKING:
 * USERNAME, PASSWORD, SET TRACKING ON, INSTCMD (→ `OK TRACKING <id>`), GET TRACKING <id> until SUCCESS, an ERR
 * or the time limit, LOGOUT. A plain `OK` to INSTCMD only means "accepted" (NUT 2.8.5's upscmd warns about exactly
 * that); the driver's verdict comes back through TRACKING.
 *
 * TRACKING is never optional where it matters: NUT 2.8.1 drivers SIGSEGV on an INSTCMD that arrives without a
 * parameter and without TRACKING (with TRACKING the driver sees `TRACKING <id>` as arguments and survives).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isNutError, NutProtocolError } from './errors.js';
import { buildRequest } from './protocol.js';

export interface InstcmdOptions {
  /** The command's parameter (cmdparam), e.g. a delay. */
  value?: string;
  /** How long to wait for the driver's result once upsd has accepted the command. Default 10000. */
  resultTimeoutMs?: number;
  /** Send the command untracked when upsd refuses SET TRACKING: only for NUT < 2.8.1 (see nutCapabilities). */
  allowUntracked?: boolean;
}

export type InstcmdResult =
  /** GET TRACKING answered SUCCESS: the driver ran the command. */
  | { outcome: 'success'; trackingId: string }
  /** GET TRACKING answered `ERR <code>`: FAILED, INVALID-ARGUMENT, UNKNOWN (the driver does not know it)… */
  | { outcome: 'failed'; trackingId: string; code: string }
  /** Still PENDING after the time limit: nobody knows whether it ran. */
  | { outcome: 'timeout'; trackingId: string; waitedMs: number }
  /** upsd refused SET TRACKING (`code`) and an untracked command was not allowed: nothing was sent. */
  | { outcome: 'tracking-refused'; code: string }
  /** upsd refused SET TRACKING (`trackingRefused`); sent untracked as allowed, and upsd accepted it: no verdict. */
  | { outcome: 'untracked'; trackingRefused: string };

/**
 * What the exchange needs of its connection: NutClient's session steps (a fresh client, see NutClient.instcmd).
 * Named here so this file does not import the client that imports it.
 */
export interface InstcmdSession {
  authenticate(lines: Pick<InstcmdLines, 'username' | 'password'>): Promise<void>;
  enableTracking(): Promise<void>;
  sendInstcmd(line: string, tracked: boolean): Promise<string>;
  trackingStatus(id: string): Promise<'PENDING' | 'SUCCESS'>;
  logout(): Promise<void>;
  close(): Promise<void>;
}

/** Request lines, built (and so validated) before anything is sent. */
export interface InstcmdLines {
  username: string;
  password: string;
  instcmd: string;
  /** The password as given, to cut out of error messages (a hostile server could echo it). */
  secret: string;
}

export function instcmdLines(
  ups: string,
  command: string,
  auth: { username: string; password: string },
  value?: string,
): InstcmdLines {
  return {
    username: buildRequest('USERNAME', [auth.username]),
    password: buildRequest('PASSWORD', [], [auth.password]),
    instcmd: buildRequest('INSTCMD', [ups, command], value === undefined ? [] : [value]),
    secret: auth.password,
  };
}

const DEFAULT_RESULT_TIMEOUT_MS = 10_000;
/** Most drivers answer within milliseconds; serial ones take about a second. Poll fast first, then settle. */
const POLL_DELAYS_MS = [50, 100, 200, 400];
const POLL_MAX_DELAY_MS = 500;

/**
 * Runs the exchange on `session` (a fresh connection, closed here). Throws what the session throws, with the
 * password cut out of the message.
 */
export async function runInstcmd(
  session: InstcmdSession,
  lines: InstcmdLines,
  options: InstcmdOptions,
): Promise<InstcmdResult> {
  try {
    return await exchange(session, lines, options);
  } catch (err) {
    throw scrub(err, lines.secret);
  } finally {
    await session.close();
  }
}

async function exchange(
  session: InstcmdSession,
  lines: InstcmdLines,
  options: InstcmdOptions,
): Promise<InstcmdResult> {
  await session.authenticate(lines);
  try {
    await session.enableTracking();
  } catch (error) {
    if (!isNutError(error)) throw error;
    if (!options.allowUntracked) return { outcome: 'tracking-refused', code: error.code };
    await session.sendInstcmd(lines.instcmd, false);
    await session.logout();
    return { outcome: 'untracked', trackingRefused: error.code };
  }
  const id = await session.sendInstcmd(lines.instcmd, true);
  const result = await followTracking(session, id, options.resultTimeoutMs ?? DEFAULT_RESULT_TIMEOUT_MS);
  await session.logout();
  return result;
}

async function followTracking(
  session: InstcmdSession,
  id: string,
  timeoutMs: number,
): Promise<InstcmdResult> {
  const started = Date.now();
  for (let poll = 0; ; poll++) {
    try {
      if ((await session.trackingStatus(id)) === 'SUCCESS') return { outcome: 'success', trackingId: id };
    } catch (error) {
      // ERR is the driver's verdict (or upsd forgot the id); anything else (EOF, garbage, timeout) is thrown.
      if (isNutError(error)) return { outcome: 'failed', trackingId: id, code: error.code };
      throw error;
    }
    const waitedMs = Date.now() - started;
    if (waitedMs >= timeoutMs) return { outcome: 'timeout', trackingId: id, waitedMs };
    await sleep(Math.min(POLL_DELAYS_MS[poll] ?? POLL_MAX_DELAY_MS, timeoutMs - waitedMs));
  }
}

/** A hostile server could echo the password into a reply we quote in an error; cut it out. */
function scrub(err: unknown, secret: string): unknown {
  if (!(err instanceof Error) || secret === '') return err;
  const mask = (s: string) => s.split(secret).join('***');
  err.message = mask(err.message);
  if (err instanceof NutProtocolError && err.line !== undefined) {
    Object.defineProperty(err, 'line', { value: mask(err.line) });
  }
  return err;
}
