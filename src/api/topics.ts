/**
 * The public MQTT topics of one agent, all under its base topic (Zigbee2MQTT layout):
 *
 * | topic                              | direction | retained | payload                                   |
 * |------------------------------------|-----------|----------|-------------------------------------------|
 * | `<base>/bridge/state`              | out       | yes      | `online` / `offline` (also the last will) |
 * | `<base>/bridge/info`               | out       | yes      | JSON, see `BridgeInfoJson`               |
 * | `<base>/bridge/event`              | out       | no       | JSON, see `BridgeEventJson`              |
 * | `<base>/bridge/command`            | in        | –        | `restart-upsd` or JSON                    |
 * | `<base>/bridge/command/response`   | out       | no       | JSON, see `CommandResponse`               |
 * | `<base>/bridge/sync`               | both      | no       | a one-off marker (discovery read-back)    |
 * | `<base>/<ups>`                     | out       | yes      | JSON, see `UpsStateJson`                 |
 * | `<base>/<ups>/availability`        | out       | yes      | `online` / `offline`                      |
 * | `<base>/<ups>/history`             | out       | yes      | JSON, see `UpsHistoryJson`               |
 * | `<base>/<ups>/event`               | out       | no       | JSON, see `UpsEventJson`                 |
 * | `<base>/<ups>/command`             | in        | –        | `restart`, an instant command, or JSON    |
 * | `<base>/<ups>/command/response`    | out       | no       | JSON, see `CommandResponse`               |
 */
export interface Topics {
  readonly base: string;
  readonly bridgeState: string;
  readonly bridgeInfo: string;
  readonly bridgeEvent: string;
  readonly bridgeCommand: string;
  readonly bridgeCommandResponse: string;
  /** The agent's own marker: it knows it has seen every retained discovery config when its marker comes back. */
  readonly bridgeSync: string;
  /** Subscription filter for every UPS's command topic. It also matches `bridgeCommand`. */
  readonly upsCommandFilter: string;
  upsState(ups: string): string;
  upsAvailability(ups: string): string;
  /** Outages, self-tests and battery care (retained). */
  upsHistory(ups: string): string;
  upsEvent(ups: string): string;
  upsCommand(ups: string): string;
  upsCommandResponse(ups: string): string;
  /**
   * Whether a received topic is `<base>/<one level>/command`, the level possibly empty or not a valid UPS name
   * (`nut//command` matches the subscription too): such a command is answered `unknown-ups`.
   */
  isCommandTopic(topic: string): boolean;
  /** Which command topic a received topic is: the bridge's, a UPS's, or none of ours. */
  parseCommandTopic(topic: string): CommandTarget | undefined;
}

export type CommandTarget = { kind: 'bridge' } | { kind: 'ups'; ups: string };

/** The topic level under the base that belongs to the agent; a UPS of that name would collide with it. */
export const BRIDGE_LEVEL = 'bridge';

/** Replies go to the command topic plus this suffix. */
export const RESPONSE_SUFFIX = '/response';

export type TopicCheck<E extends string> = { ok: true } | { ok: false; error: E; message: string };

export type BaseTopicError =
  | 'empty-topic'
  | 'wildcard-char'
  | 'empty-level'
  | 'invalid-char'
  | 'system-topic';

/**
 * Whether a base topic is usable: no wildcards, no empty levels (`a//b`, leading or trailing `/`), no control
 * characters, and not under `$` (brokers reserve `$SYS`; clients cannot publish there).
 */
export function checkBaseTopic(base: string): TopicCheck<BaseTopicError> {
  if (base.length === 0) return fail('empty-topic', 'the base topic is empty');
  if (/[+#]/.test(base)) return fail('wildcard-char', 'the base topic contains an MQTT wildcard (+ or #)');
  if (base.split('/').some((level) => level.length === 0)) {
    return fail('empty-level', 'the base topic has an empty level (leading, trailing or double /)');
  }
  if (hasInvalidChar(base)) return fail('invalid-char', 'the base topic contains a control character');
  if (base.startsWith('$')) return fail('system-topic', 'the base topic must not start with $');
  return { ok: true };
}

export type UpsNameError =
  | 'empty-name'
  | 'wildcard-char'
  | 'topic-separator'
  | 'invalid-char'
  | 'reserved-name';

/**
 * Whether a UPS name (a section of ups.conf) can be one topic level: not empty, no `+`, `#` or `/`, no NUL or
 * other control character (MQTT forbids NUL and discourages the rest), no unpaired surrogate (not encodable as
 * UTF-8), and not `bridge` (that level is the agent's own). Callers report and skip a bad name; nothing throws.
 */
export function checkUpsName(name: string): TopicCheck<UpsNameError> {
  if (name.length === 0) return fail('empty-name', 'the UPS name is empty');
  if (/[+#]/.test(name)) return fail('wildcard-char', `UPS name ${JSON.stringify(name)} contains + or #`);
  if (name.includes('/')) return fail('topic-separator', `UPS name ${JSON.stringify(name)} contains /`);
  if (hasInvalidChar(name)) {
    return fail('invalid-char', `UPS name ${JSON.stringify(name)} contains a control or invalid character`);
  }
  if (name === BRIDGE_LEVEL)
    return fail('reserved-name', `UPS name "${BRIDGE_LEVEL}" is reserved for the agent`);
  return { ok: true };
}

/** Builds every topic of one agent. Throws on an invalid base topic: that is a configuration error at start-up. */
export function topicsFor(base: string): Topics {
  const check = checkBaseTopic(base);
  if (!check.ok) throw new Error(`invalid MQTT base topic ${JSON.stringify(base)}: ${check.message}`);
  const bridge = `${base}/${BRIDGE_LEVEL}`;
  const commandPrefix = `${base}/`;
  const commandSuffix = '/command';
  const commandLevel = (topic: string) =>
    topic.startsWith(commandPrefix) && topic.endsWith(commandSuffix)
      ? topic.slice(commandPrefix.length, topic.length - commandSuffix.length)
      : undefined;
  return {
    base,
    bridgeState: `${bridge}/state`,
    bridgeInfo: `${bridge}/info`,
    bridgeEvent: `${bridge}/event`,
    bridgeCommand: `${bridge}/command`,
    bridgeCommandResponse: `${bridge}/command${RESPONSE_SUFFIX}`,
    bridgeSync: `${bridge}/sync`,
    upsCommandFilter: `${base}/+/command`,
    upsState: (ups) => `${base}/${ups}`,
    upsAvailability: (ups) => `${base}/${ups}/availability`,
    upsHistory: (ups) => `${base}/${ups}/history`,
    upsEvent: (ups) => `${base}/${ups}/event`,
    upsCommand: (ups) => `${base}/${ups}/command`,
    upsCommandResponse: (ups) => `${base}/${ups}/command${RESPONSE_SUFFIX}`,
    isCommandTopic(topic) {
      const level = commandLevel(topic);
      return level !== undefined && !level.includes('/');
    },
    parseCommandTopic(topic) {
      const level = commandLevel(topic);
      if (level === undefined) return undefined;
      if (level === BRIDGE_LEVEL) return { kind: 'bridge' };
      return checkUpsName(level).ok ? { kind: 'ups', ups: level } : undefined;
    },
  };
}

// \p{Cc}: C0 controls (NUL included), DEL, C1 controls. \p{Cs}: lone surrogates (UTF-8 cannot encode them).
function hasInvalidChar(value: string): boolean {
  return /[\p{Cc}\p{Cs}]/u.test(value);
}

function fail<E extends string>(error: E, message: string): { ok: false; error: E; message: string } {
  return { ok: false, error, message };
}
