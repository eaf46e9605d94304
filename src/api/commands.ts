/**
 * The command vocabulary of the MQTT API: what may be sent to `<base>/<ups>/command` and `<base>/bridge/command`,
 * and what comes back on `<command topic>/response`. src/mqtt/commands.ts parses and classifies by these rules;
 * the configuration (MQTT_INSTCMD_ALLOW), the Home Assistant buttons and the tests use the same names.
 *
 * Accepted payloads (UTF-8, at most 1 KiB):
 * - plain text: `restart`, `restart-upsd`, `self-test` (a quick one), or an instant command name
 *   (`beeper.disable`); surrounding whitespace is ignored, so `mosquitto_pub -l` style trailing newlines work;
 * - a JSON object: `{"command": "restart", "transaction": "any"}`; `transaction` (string ≤ 128 chars or a
 *   number) is echoed in the response; `type` (`quick` or `deep`) is the argument of `self-test`; other keys are
 *   ignored; nesting deeper than 3 levels is refused.
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
 * | `invalid-argument`      | `self-test` with a `type` other than `quick` or `deep`                   |
 * | `instcmd-not-allowed`   | the UPS lists it, but it is not in the agent's allow-list                |
 * | `instcmd-not-supported` | allowed, but this UPS does not list it (`LIST CMD`)                      |
 * | `unknown-ups`           | the topic names a UPS the agent does not manage                         |
 * | `busy`                  | another command for this UPS is still running                            |
 * | `cooldown`              | a restart was asked for too soon after the last one                      |
 * | `recovery-failed`       | the driver restart did not bring fresh data back                         |
 * | `self-test-refused`     | no self-test while the UPS is on battery or its driver has no fresh data |
 * | `instcmd-failed`        | upsd refused it, or its TRACKING result was not SUCCESS (`detail`: NUT's word: `FAILED`, `UNKNOWN`, `INVALID-ARGUMENT`, `ACCESS-DENIED`…) |
 * | `instcmd-timeout`       | upsd accepted it, but its TRACKING result was still PENDING at the limit |
 * | `upsd-restart-failed`   | upsd did not come back after a restart                                   |
 * | `timeout`               | the command did not finish in time                                       |
 * | `internal-error`        | anything else (a bug); details are in the agent's log                    |
 */

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
  'invalid-argument',
  'instcmd-not-allowed',
  'instcmd-not-supported',
  'unknown-ups',
  'busy',
  'cooldown',
  'recovery-failed',
  'self-test-refused',
  'instcmd-failed',
  'instcmd-timeout',
  'upsd-restart-failed',
  'timeout',
  'internal-error',
] as const;

export type CommandErrorCode = (typeof COMMAND_ERROR_CODES)[number];

export type Transaction = string | number;

/** Payloads are at most this many bytes: a command is a word or a small JSON object. */
export const MAX_COMMAND_BYTES = 1024;
export const MAX_TRANSACTION_LENGTH = 128;
const MAX_COMMAND_NAME_LENGTH = 64;
/** JSON nested deeper than this is refused (`json-too-deep`). */
export const MAX_JSON_DEPTH = 3;

/** Driver restart, on a UPS's command topic. */
export const RESTART_COMMAND = 'restart';
/** upsd restart, on the bridge's command topic. */
export const RESTART_UPSD_COMMAND = 'restart-upsd';
/** Battery self-test, on a UPS's command topic; its JSON `type` says which (default quick). */
export const SELF_TEST_COMMAND = 'self-test';

/** The kinds of battery self-test: the argument of `self-test`, BATTERY_SELF_TEST_TYPE. */
export const SELF_TEST_TYPES = ['quick', 'deep'] as const;
export type SelfTestType = (typeof SELF_TEST_TYPES)[number];

/** The NUT instant command that starts each kind (NUT's cmdvartab names; MQTT_INSTCMD_ALLOW must allow it). */
export const SELF_TEST_INSTCMDS: Readonly<Record<SelfTestType, string>> = {
  quick: 'test.battery.start.quick',
  deep: 'test.battery.start.deep',
};

/** The instant command that stops a running battery test. */
export const SELF_TEST_STOP = 'test.battery.stop';

/** Which self-test an instant command starts, if it is one of SELF_TEST_INSTCMDS. */
export function selfTestTypeOf(command: string): SelfTestType | undefined {
  return SELF_TEST_TYPES.find((type) => SELF_TEST_INSTCMDS[type] === command);
}

/**
 * The instant command name rule (commands from MQTT, MQTT_INSTCMD_ALLOW, Home Assistant buttons, the fuzz test's oracle).
 * NUT instant command names are dot-separated lower-case words, some with hyphens (`test.battery.start.quick`,
 * `load.off.delay`, `driver.reload-or-exit`; see NUT's data/cmdvartab). Anything else — spaces, newlines,
 * quotes, shell metacharacters, upper case — is refused before it gets near upsd's line protocol.
 */
const COMMAND_NAME = /^[a-z0-9][a-z0-9-]*(?:\.[a-z0-9][a-z0-9-]*)*$/;

export function isValidCommandName(name: string): boolean {
  return name.length <= MAX_COMMAND_NAME_LENGTH && COMMAND_NAME.test(name);
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
