// Hostile input on the MQTT command topics, end to end: a real Mosquitto, the agent (in-process, real upsd), a
// dummy-ups UPS and a blazer_ser UPS on the simulated Megatec/Q1 UPS that records every instant command reaching
// it. INSTCMD_ALLOW names one harmless command and the agent has upsd admin credentials, so a real instant command
// path exists: the fuzzer must not be able to reach it (nor a driver or upsd restart).
//
// 10,000 payloads from a seeded PRNG (the seed is printed; FUZZ_SEED=<n> replays a run), plus a fixed corpus
// of near misses on every topic, go to every command topic. Each payload's expected answer comes from the
// documented contract (src/api/commands.ts header: size limit, UTF-8, JSON shape, NUT name syntax, then the
// topic), written out again here, independently of the agent's parser; the name rule and the size limit are the
// contract module's own (isValidCommandName, MAX_COMMAND_BYTES), the one source the schema and parser use too.
// Payloads that ARE valid commands for their topic (`restart` on a UPS, `restart-upsd` on the bridge, the allowed
// instant command on the UPS that lists it, also with surrounding whitespace or a BOM, which the contract accepts)
// are not junk: the generator drops them and counts them.
//
// Accounting, exact per topic and in order (MQTT keeps the order of QoS 1 messages per topic):
// - every payload the broker delivers to the agent gets exactly one error response on `<topic>/response`;
// - payloads over the agent's MQTT 5 maximum packet size (256 KiB) are dropped by the broker: no response;
// - publishes with the retain flag reach the running agent as live messages (the subscription does not ask for
//   retain-as-published, so the broker clears the flag): answered like the rest;
// - retained commands already on the broker when the agent subscribes arrive flagged retained: ignored by design,
//   no response (seeded before the agent starts, dangerous ones included: `restart`, the allowed instant command);
// - `nut//command` matches the agent's `nut/+/command` subscription: an empty UPS name, answered like any unknown
//   UPS; `nut/a/b/command` does not match the subscription at all: no response.
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMAND_ERROR_CODES, isValidCommandName, MAX_COMMAND_BYTES } from '../../src/api/commands.js';
import type { AgentUnderTest } from '../fixtures/agent.js';
import type { Broker } from '../fixtures/mosquitto.js';
import { type MqttAgent, startMqttAgent } from '../fixtures/mqttAgent.js';
import { json, type Observer, observe } from '../fixtures/mqttObserver.js';
import { type NutLab, processAlive, sleep, waitFor } from '../fixtures/nutLab.js';
import { Rng } from '../fixtures/prng.js';
import type { Q1Simulator } from '../fixtures/q1Simulator.js';

/** FUZZ_COUNT=<n> sends more (never fewer). */
const GENERATED = Math.max(10_000, Number(process.env.FUZZ_COUNT) || 0);
const BATCH = 100;
const ALLOWED = 'beeper.toggle';
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) >>> 0 : (Date.now() ^ process.pid) >>> 0;
const KIB = 1024;
/** connection.ts: the agent's MQTT 5 maximum packet size; the broker drops anything bigger for it. */
const MAX_PACKET = 256 * KIB;
/** Generated "huge" payloads stay this far under MAX_PACKET, "oversize" ones this far over: no edge cases. */
const HUGE_MAX = 200 * KIB;
const OVERSIZE_MIN = 300 * KIB;

// --- topics -----------------------------------------------------------------------------------------------------

type TopicKind =
  | { kind: 'ups'; ups: string }
  | { kind: 'bridge' }
  | { kind: 'unknown' }
  /** Delivered to the agent but not a command topic for it (empty level), or not delivered at all. */
  | { kind: 'silent' };

const TOPICS: Record<string, TopicKind> = {
  'nut/ups1/command': { kind: 'ups', ups: 'ups1' },
  'nut/q1/command': { kind: 'ups', ups: 'q1' },
  'nut/bridge/command': { kind: 'bridge' },
  'nut/nosuch/command': { kind: 'unknown' },
  'nut/UPS1/command': { kind: 'unknown' },
  'nut/q1 /command': { kind: 'unknown' },
  'nut/Bridge/command': { kind: 'unknown' },
  'nut/command/command': { kind: 'unknown' },
  'nut/ünïcødé-☃-🔥/command': { kind: 'unknown' },
  'nut/$(reboot)/command': { kind: 'unknown' },
  'nut/ups1;rm -rf ~;`id`/command': { kind: 'unknown' },
  [`nut/${'x'.repeat(300)}/command`]: { kind: 'unknown' },
  'nut//command': { kind: 'unknown' },
  'nut/a/b/command': { kind: 'silent' },
};
const TOPIC_NAMES = Object.keys(TOPICS);
const UNKNOWN_TOPICS = TOPIC_NAMES.filter((t) => TOPICS[t]?.kind === 'unknown');

// --- the documented contract, written out independently of the agent -------------------------------------------

const isNutName = isValidCommandName;
const utf8 = new TextDecoder('utf-8', { fatal: true });

type Transaction = string | number;
type Parsed = { error: string; transaction?: Transaction } | { name: string; transaction?: Transaction };

function containerDepth(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  let deepest = 0;
  for (const child of Object.values(value)) deepest = Math.max(deepest, containerDepth(child));
  return 1 + deepest;
}

function parsePayload(payload: Buffer): Parsed {
  if (payload.length > MAX_COMMAND_BYTES) return { error: 'payload-too-large' };
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    return { error: 'invalid-utf8' };
  }
  text = text.trim();
  if (text === '') return { error: 'empty-payload' };
  if (!text.startsWith('{') && !text.startsWith('[')) {
    return isNutName(text) ? { name: text } : { error: 'invalid-command-name' };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: 'malformed-json' };
  }
  if (containerDepth(value) > 3) return { error: 'json-too-deep' };
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { error: 'json-not-object' };
  const fields = value as Record<string, unknown>;
  let transaction: Transaction | undefined;
  if (Object.hasOwn(fields, 'transaction')) {
    const t = fields.transaction;
    const ok = (typeof t === 'string' && t.length <= 128) || (typeof t === 'number' && Number.isFinite(t));
    if (!ok) return { error: 'invalid-transaction' };
    // As it comes back through JSON (-0 becomes 0).
    transaction = JSON.parse(JSON.stringify(t)) as Transaction;
  }
  const tx = transaction === undefined ? {} : { transaction };
  if (!Object.hasOwn(fields, 'command')) return { error: 'missing-command', ...tx };
  if (typeof fields.command !== 'string') return { error: 'invalid-command-type', ...tx };
  if (!isNutName(fields.command)) return { error: 'invalid-command-name', ...tx };
  return { name: fields.command, ...tx };
}

/** The error response fields we expect, `valid` for a real command (not junk), `none` when no answer comes. */
type Expected = { error: string; command?: string; transaction?: Transaction } | 'valid' | 'none';

function expectedFor(
  topic: string,
  payload: Buffer,
  listed: ReadonlyMap<string, readonly string[]>,
): Expected {
  const target = TOPICS[topic];
  if (!target || target.kind === 'silent') return 'none';
  if (payload.length > MAX_PACKET) return 'none';
  const parsed = parsePayload(payload);
  if ('error' in parsed) return parsed;
  const { name, transaction } = parsed;
  const named = { command: name, ...(transaction === undefined ? {} : { transaction }) };
  if (target.kind === 'unknown') return { error: 'unknown-ups', ...named };
  if (target.kind === 'bridge')
    return name === 'restart-upsd' ? 'valid' : { error: 'unknown-command', ...named };
  if (name === 'restart') return 'valid';
  const isListed = (listed.get(target.ups) ?? []).includes(name);
  const isAllowed = name === ALLOWED;
  if (isAllowed && isListed) return 'valid';
  if (isAllowed) return { error: 'instcmd-not-supported', ...named };
  if (isListed) return { error: 'instcmd-not-allowed', ...named };
  return { error: 'unknown-command', ...named };
}

// --- the generator ----------------------------------------------------------------------------------------------

class Gen extends Rng {
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(this.next() * 256);
    return b;
  }
  /** Mostly short, sometimes long. */
  length(max: number): number {
    return this.chance(0.8) ? this.int(1, 40) : this.int(41, max);
  }
  string(alphabet: string, n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(this.next() * alphabet.length)];
    return s;
  }
}

const VALID = ['restart', 'restart-upsd', ALLOWED];
const LISTED_LIKE = [
  'load.off',
  'load.on',
  'shutdown.return',
  'shutdown.stop',
  'shutdown.stayoff',
  'test.battery.start',
  'test.battery.start.quick',
  'test.battery.start.deep',
  'test.battery.stop',
  'beeper.enable',
  'beeper.disable',
  'beeper.mute',
  'driver.reload',
  'driver.reload-or-exit',
  'calibrate.start',
];
const WORDS = [
  'ups',
  'load',
  'off',
  'beeper',
  'test',
  'battery',
  'x',
  '0',
  'a-b',
  'reboot',
  'shutdown',
  'rm',
];
const SHELL = [
  '; rm -rf /',
  ';rm -rf / #',
  '$(reboot)',
  '`reboot`',
  '| sh',
  '|| reboot',
  '&& reboot',
  '& reboot &',
  '> /etc/passwd',
  '< /dev/zero',
  '$' + '{IFS}reboot', // shell parameter expansion, literally
  '$((1+1))',
  "'; DROP TABLE ups; --",
  '%s%s%s%n',
  '../../../../etc/shadow',
  '\\\\x00',
  '*',
  '~root',
  '!!',
];
const NUT_LINES = [
  'INSTCMD ups1 load.off',
  'INSTCMD q1 beeper.toggle',
  'INSTCMD q1 load.off',
  'INSTCMD q1 test.battery.start.quick',
  'SET VAR ups1 ups.delay.shutdown 1',
  'FSD q1',
  'PRIMARY q1',
  'USERNAME admin',
  'PASSWORD adminpass',
  'LOGOUT',
  'LIST UPS',
];
const SEPARATORS = ['\n', '\r\n', '\r', '\0', ' ', '\t', '"', '" ', '\\n', '\u2028', '\u0085', '\x1b[2J'];
const ODD_JSON_VALUES = [
  '5',
  '-0',
  '1.5',
  '1e400',
  '-1e400',
  '1e308',
  '123456789012345678901234567890',
  'true',
  'false',
  'null',
  '[]',
  '[1,2]',
  '{}',
  '{"a":1}',
  '""',
  `"${'t'.repeat(128)}"`,
  `"${'t'.repeat(129)}"`,
  '"\\u0000"',
  '"\\ud800"',
  '"é☃🔥"',
  '"\\n"',
];
const WHITESPACE = [' ', '\t', '\n', '\r\n', '\u00a0', '\u2028', '\ufeff', '\v', '\f'];

function nameLike(g: Gen): string {
  const roll = g.next();
  if (roll < 0.25) return g.pick(LISTED_LIKE);
  if (roll < 0.35) return g.pick(VALID);
  if (roll < 0.45) return g.string('abcdefghijklmnopqrstuvwxyz', g.chance(0.5) ? 64 : 65);
  const parts = Array.from({ length: g.int(1, 4) }, () => g.pick(WORDS));
  return parts.join('.');
}

function nearMiss(g: Gen): string {
  const base = g.pick(VALID);
  const mutations: Array<(s: string) => string> = [
    (s) => s.toUpperCase(),
    (s) => s[0]?.toUpperCase() + s.slice(1),
    (s) => `${s} ${g.pick(WORDS)}`,
    (s) => `${s}${g.pick(SHELL)}`,
    (s) => `${s}${g.pick(SEPARATORS)}${g.pick(NUT_LINES)}`,
    (s) => `${s}\u0000`,
    (s) => `${s}\u200b`,
    (s) => s.replace('e', '\u0435'), // Cyrillic e
    (s) => `${s}.`,
    (s) => `.${s}`,
    (s) => `${s}-`,
    (s) => s.replace('t', 't\u0301'),
    (s) => `${g.pick(WHITESPACE)}${s}${g.pick(WHITESPACE)}`, // valid after trim: dropped on its own topic
    (s) => s.split('').join(' '),
    (s) => `${s}${s}`,
    (s) => s.slice(0, -1),
  ];
  return g.pick(mutations)(base);
}

function jsonCommand(command: string, g: Gen): string {
  const tx = g.chance(0.5)
    ? `,"transaction":${g.chance(0.7) ? JSON.stringify(`t${g.int(0, 9999)}`) : g.pick(ODD_JSON_VALUES)}`
    : '';
  return g.chance(0.5)
    ? `{"command":${command}${tx}}`
    : `{${tx.slice(1)}${tx ? ',' : ''}"command":${command}}`;
}

function deep(g: Gen, depth: number): string {
  const open = Array.from({ length: depth }, () => (g.chance(0.5) ? '{"a":' : '[')).join('');
  const close = [...open.matchAll(/\{"a":|\[/g)]
    .map((m) => (m[0] === '[' ? ']' : '}'))
    .reverse()
    .join('');
  const inner = g.chance(0.5) ? '{"command":"restart"}' : '"restart"';
  return g.chance(0.5) ? `{"command":"restart","x":${open}${inner}${close}}` : `${open}${inner}${close}`;
}

function unicodeJunk(g: Gen): Buffer {
  const roll = g.next();
  if (roll < 0.3) {
    // Invalid UTF-8: overlong encodings, lone surrogates, truncated sequences, bare continuation bytes.
    const bad = [
      [0xc0, 0xaf],
      [0xc1, 0xb2],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xe2, 0x82],
      [0x80],
      [0xff],
      [0xfe, 0xff],
    ];
    return Buffer.concat([Buffer.from(nameLike(g)), Buffer.from(g.pick(bad)), Buffer.from(g.pick(VALID))]);
  }
  const chars = [
    'é',
    'ß',
    '☃',
    '🔥',
    '\u202e',
    '\u0301',
    '\u200d',
    '中文',
    'ｒ',
    'ℝ',
    '\ufffd',
    '\u{10ffff}',
  ];
  let s = '';
  const n = g.length(200);
  for (let i = 0; i < n; i++) s += g.chance(0.5) ? g.pick(chars) : String.fromCodePoint(g.int(0x20, 0x2fff));
  return Buffer.from(g.chance(0.3) ? JSON.stringify({ command: s }) : s);
}

function huge(g: Gen): Buffer {
  const n = g.int(MAX_COMMAND_BYTES + 1, HUGE_MAX);
  const kind = g.int(0, 4);
  if (kind === 0) return g.bytes(n);
  if (kind === 1) return Buffer.from(`restart${' '.repeat(n - 7)}`);
  if (kind === 2) return Buffer.from(JSON.stringify({ command: 'restart', pad: 'x'.repeat(n) }));
  if (kind === 3) return Buffer.from('['.repeat(n));
  return Buffer.from(`${ALLOWED}\n${'INSTCMD q1 load.off\n'.repeat(Math.ceil(n / 20))}`);
}

interface Case {
  topic: string;
  payload: Buffer;
  retain: boolean;
  category: string;
}

function generate(g: Gen): Omit<Case, 'topic' | 'retain'> {
  const roll = g.next();
  const b = (category: string, payload: string | Buffer) => ({
    category,
    payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
  });
  if (roll < 0.12) return b('random-bytes', g.bytes(g.length(MAX_COMMAND_BYTES + 200)));
  if (roll < 0.2) {
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 .-_;|&$`()<>\'"\\{}[]:,\n\r\t*?~#%^!';
    return b('random-text', g.string(alphabet, g.length(300)));
  }
  if (roll < 0.3) {
    const cmd = g.pick([...VALID, ...LISTED_LIKE]);
    const junk = g.chance(0.5) ? `${cmd}${g.pick(SHELL)}` : `${g.pick(SHELL)}${cmd}`;
    return b('shell', g.chance(0.3) ? jsonCommand(JSON.stringify(junk), g) : junk);
  }
  if (roll < 0.4) {
    const line = `${g.pick([...VALID, ...LISTED_LIKE])}${g.pick(SEPARATORS)}${g.pick(NUT_LINES)}`;
    return b('nut-injection', g.chance(0.3) ? jsonCommand(JSON.stringify(line), g) : line);
  }
  if (roll < 0.5) {
    const name = nameLike(g);
    return b('names', g.chance(0.4) ? jsonCommand(JSON.stringify(name), g) : name);
  }
  if (roll < 0.58) {
    const miss = nearMiss(g);
    return b('near-miss', g.chance(0.3) ? jsonCommand(JSON.stringify(miss), g) : miss);
  }
  if (roll < 0.7) {
    const top = g.pick([
      '5',
      'null',
      'true',
      '"restart"',
      '["restart"]',
      '[{"command":"restart"}]',
      '{}',
      '-1',
    ]);
    return b('wrong-types', g.chance(0.3) ? top : jsonCommand(g.pick(ODD_JSON_VALUES), g));
  }
  if (roll < 0.78) {
    const cmd = JSON.stringify(g.chance(0.5) ? g.pick(VALID) : nameLike(g));
    const tx = g.pick(ODD_JSON_VALUES);
    return b('transaction', `{"command":${cmd},"transaction":${tx}}`);
  }
  if (roll < 0.84) return b('deep-json', deep(g, g.chance(0.8) ? g.int(2, 40) : g.int(41, 3000)));
  if (roll < 0.87) return b('huge', huge(g));
  if (roll < 0.92) return b('unicode', unicodeJunk(g));
  if (roll < 0.95)
    return b('whitespace', Array.from({ length: g.int(0, 6) }, () => g.pick(WHITESPACE)).join(''));
  if (roll < 0.98) {
    const keys = [
      '{"__proto__":{"command":"restart"}}',
      '{"constructor":{"prototype":{"command":"restart"}}}',
      '{"command":"restart","command":5}',
      '{"command":5,"command":"restart"}',
      '{"COMMAND":"restart"}',
      '{"command ":"restart"}',
      '{"command":"restart"',
      '{command:"restart"}',
      "{'command':'restart'}",
      '{"command":"restart"}}',
      '{"command":"restart"} {"command":"restart"}',
      '{"command":"restart","transaction":"a"}garbage',
    ];
    return b('json-tricks', g.pick(keys));
  }
  return b('mixed', Buffer.concat([Buffer.from(g.pick(VALID)), g.bytes(g.int(1, 8))]));
}

/** Hand-written near misses and nasties, sent to every topic. */
const FIXED: Array<string | Buffer> = [
  'Restart',
  'RESTART',
  'restart now',
  'restart;',
  'restart; rm -rf /',
  'restart && reboot',
  'restart | sh',
  'restart\nrestart',
  'restart\n',
  'restart\r\n',
  ' restart\t',
  '\u00a0restart',
  '\ufeffrestart',
  Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('restart')]),
  'restart\u0000',
  'restart\u200b',
  'r\u0435start',
  'ｒｅｓｔａｒｔ',
  'restart.',
  '.restart',
  'restart-',
  're start',
  'Restart-UPSD',
  'restart_upsd',
  'restart-upsd\n',
  'restart-upsd;reboot',
  '$(reboot)',
  '`reboot`',
  '$' + '{IFS}reboot', // shell parameter expansion, literally
  'restart%0aINSTCMD q1 load.off',
  'beeper.toggle\nINSTCMD q1 load.off',
  'beeper.toggle\r\nINSTCMD q1 load.off',
  'beeper.disable\nINSTCMD ups1 load.off',
  'beeper.toggle\u0000INSTCMD q1 load.off',
  'beeper.toggle load.off',
  'beeper.toggle\n',
  '"beeper.toggle"',
  'Beeper.Toggle',
  'beeper..toggle',
  '{"command":"restart\\u0000"}',
  '{"command":"restart\\n"}',
  '{"command":" restart"}',
  '{"command":"Restart"}',
  '{"command":"beeper.toggle\\nINSTCMD q1 load.off"}',
  '{"command":"beeper.toggle\\r\\nINSTCMD q1 load.off","transaction":"inj"}',
  '{"command":"restart","transaction":{"x":1}}',
  `{"command":"restart","transaction":"${'x'.repeat(129)}"}`,
  '{"command":"restart","transaction":1e400}',
  '{"command":"beeper.toggle","transaction":[]}',
  '{"command":"restart","a":{"b":{"c":{}}}}',
  '{"command":["restart"]}',
  '{"command":{"command":"restart"}}',
  '{"command":null,"transaction":"n"}',
  '["restart"]',
  '"restart"',
  'null',
  '5',
  '{"__proto__":{"command":"restart"}}',
  `{"command":"restart","pad":"${'x'.repeat(1100)}"}`,
  `restart${' '.repeat(1100)}`,
  Buffer.from([0x72, 0x65, 0x73, 0x74, 0x61, 0x72, 0x74, 0xff]),
  Buffer.from([0xc1, 0xb2, 0x65, 0x73, 0x74, 0x61, 0x72, 0x74]),
  '',
  '   ',
];

// --- the test ---------------------------------------------------------------------------------------------------

interface Sent {
  topic: string;
  /** The start of the payload (for messages) and its size: the payloads themselves can be large. */
  preview: string;
  bytes: number;
  expected: Exclude<Expected, 'valid'>;
  category: string;
}

const preview = (b: Buffer): string => JSON.stringify(b.subarray(0, 80).toString('utf8'));

describe('MQTT command fuzzing against a live agent', () => {
  let setup: MqttAgent | undefined;
  let sim: Q1Simulator;
  let broker: Broker;
  let lab: NutLab;
  let agent: AgentUnderTest;
  let responses: Observer;
  let states: Observer;
  let publisher: MqttClient;
  const listed = new Map<string, string[]>();

  beforeAll(async () => {
    setup = await startMqttAgent({
      upses: [{ name: 'ups1' }],
      q1Ups: 'q1',
      observe: ['nut/+/command/response', 'nut/+/+/command/response'],
      env: (nut) => ({
        INSTCMD_ALLOW: ALLOWED,
        NUT_USERNAME: nut.adminUser.username,
        NUT_PASSWORD: nut.adminUser.password,
      }),
      beforeAgent: async ({ broker: b }) => {
        publisher = await connectAsync(b.url, {
          protocolVersion: 5,
          clientId: `fuzzer_${process.pid}`,
          reconnectPeriod: 0,
        });
        // Retained commands waiting on the broker before the agent subscribes, the dangerous ones included.
        const seeded: Array<[string, string]> = [
          ['nut/ups1/command', 'restart'],
          ['nut/q1/command', ALLOWED],
          ['nut/bridge/command', 'restart-upsd'],
          ['nut/nosuch/command', 'restart'],
        ];
        for (const [topic, payload] of seeded)
          await publisher.publishAsync(topic, payload, { qos: 1, retain: true });
        states = await observe(b, ['nut/ups1', 'nut/bridge/state']);
      },
    });
    ({ broker, lab, agent, obs: responses } = setup);
    sim = setup.sim as Q1Simulator;
    for (const ups of ['ups1', 'q1'])
      await agent.waitForEvent('ready', (e) => e.ups === ups, { timeoutMs: 45_000 });
    // The instant command list, as upsd gives it to anyone; the agent must have the same before we start.
    for (const ups of ['ups1', 'q1']) {
      const r = await execa('upscmd', ['-l', `${ups}@127.0.0.1:${lab.port}`], { stdin: 'ignore' });
      const cmds = r.stdout
        .split('\n')
        .map((l) => /^([a-z0-9.-]+) - /.exec(l)?.[1])
        .filter((c): c is string => c !== undefined)
        .sort();
      listed.set(ups, cmds);
      await waitFor(
        `the agent's command list of ${ups}`,
        () => {
          const have = agent.controller.supervisor.ups(ups)?.snapshot().commands ?? [];
          return JSON.stringify([...have].sort()) === JSON.stringify(cmds) ? true : undefined;
        },
        { timeoutMs: 30_000 },
      );
    }
    expect(listed.get('q1')).toContain(ALLOWED);
    expect(listed.get('ups1')).not.toContain(ALLOWED);
    // Discovery is published after the agent's subscriptions (same connection, in order): the command
    // subscription is in place, and the retained commands above have been delivered to it.
    await states.waitFor('nut/bridge/state', (m) => m.text === 'online', { timeoutMs: 30_000 });
    const discovery = await observe(broker, ['homeassistant/button/nut_q1/instcmd_beeper_toggle/config']);
    try {
      await discovery.waitFor(
        () => true,
        (m) => m.text !== '',
        { timeoutMs: 30_000 },
      );
    } finally {
      await discovery.stop();
    }
  }, 120_000);

  afterAll(async () => {
    await publisher?.endAsync(true);
    await states?.stop();
    await setup?.stop();
  });

  it('answers every delivered payload with exactly one error, runs nothing, and stays up', async () => {
    const started = Date.now();
    console.log(`mqttFuzz: seed ${SEED} (replay with FUZZ_SEED=${SEED})`);
    const pids = { ups1: agent.driverPid('ups1'), q1: agent.driverPid('q1') };
    const upsdPid = agent.controller.supervisor.upsdPid;
    expect(pids.ups1).toBeGreaterThan(0);
    expect(pids.q1).toBeGreaterThan(0);
    expect(upsdPid).toBeGreaterThan(0);
    const busMark = agent.mark();

    // Probes, one per topic, go first: the first answer on a topic must be its probe's, so the retained commands
    // seeded before the start were not answered.
    const sent: Sent[] = [];
    const probe = (i: number): Buffer => Buffer.from(`{"transaction":"probe-${i}"}`);
    const probes = TOPIC_NAMES.map((topic, i) => ({
      topic,
      payload: probe(i),
      retain: false,
      category: 'probe',
    }));

    // The cases, topics and all, are drawn up front: the whole run follows from the seed.
    const g = new Gen(SEED);
    const cases: Case[] = [];
    let dropped = 0;
    const keep = (c: Case): void => {
      if (expectedFor(c.topic, c.payload, listed) === 'valid') dropped++;
      else cases.push(c);
    };
    for (const topic of TOPIC_NAMES)
      for (const p of FIXED)
        keep({
          topic,
          payload: typeof p === 'string' ? Buffer.from(p) : p,
          retain: false,
          category: 'fixed',
        });
    const fixedCount = cases.length;
    for (let attempts = 0; cases.length < fixedCount + GENERATED && attempts < GENERATED * 5; attempts++) {
      const roll = g.next();
      const topic =
        roll < 0.25
          ? 'nut/ups1/command'
          : roll < 0.5
            ? 'nut/q1/command'
            : roll < 0.68
              ? 'nut/bridge/command'
              : roll < 0.97
                ? g.pick(UNKNOWN_TOPICS)
                : g.pick(['nut//command', 'nut/a/b/command']);
      // With the retain flag: the live agent gets these unflagged and must answer them like the rest.
      keep({ topic, retain: g.chance(0.04), ...generate(g) });
    }
    expect(cases.length - fixedCount).toBe(GENERATED);
    // Over the agent's maximum packet size: the broker must drop these for it.
    for (let i = 0; i < 6; i++) {
      const topic = g.pick([
        'nut/ups1/command',
        'nut/q1/command',
        'nut/bridge/command',
        'nut/nosuch/command',
      ]);
      const n = g.int(OVERSIZE_MIN, 1024 * KIB);
      cases.splice(g.int(fixedCount, cases.length), 0, {
        topic,
        payload: Buffer.from(`${ALLOWED}${' '.repeat(n)}`),
        retain: false,
        category: 'oversize',
      });
    }

    let expectedCount = 0;
    let timedOut: string | undefined;
    const publishBatch = async (batch: Case[]): Promise<void> => {
      for (const c of batch) {
        const expected = expectedFor(c.topic, c.payload, listed);
        if (expected === 'valid')
          throw new Error(`a valid command slipped into the fuzz set: ${preview(c.payload)}`);
        sent.push({
          topic: c.topic,
          preview: preview(c.payload),
          bytes: c.payload.length,
          expected,
          category: c.category,
        });
        if (expected !== 'none') expectedCount++;
      }
      await Promise.all(
        batch.map((c) => publisher.publishAsync(c.topic, c.payload, { qos: 1, retain: c.retain })),
      );
      // Backpressure end to end: the next batch goes out once this one is answered.
      const deadline = Date.now() + 30_000;
      while (responses.messages.length < expectedCount && Date.now() < deadline) await sleep(5);
      if (responses.messages.length < expectedCount)
        timedOut ??= `only ${responses.messages.length} of ${expectedCount} responses after 30 s`;
    };

    await publishBatch(probes);
    for (let i = 0; i < cases.length && !timedOut; i += BATCH) await publishBatch(cases.slice(i, i + BATCH));
    // A last probe per topic: once its answer is in, every earlier answer on that topic is too.
    const finals = TOPIC_NAMES.map((topic, i) => ({
      topic,
      payload: probe(1000 + i),
      retain: false,
      category: 'probe',
    }));
    if (!timedOut) await publishBatch(finals);
    expect(timedOut).toBeUndefined();
    // Extra answers would come before the final probes' on their topic; give the broker a moment for stragglers.
    await sleep(500);

    // Exact accounting, per topic and in order.
    const mismatches: string[] = [];
    const codes = new Map<string, number>();
    const allowedKeys = new Set(['status', 'command', 'transaction', 'error', 'detail', 'duration_ms']);
    for (const topic of TOPIC_NAMES) {
      const want = sent.filter((s) => s.topic === topic && s.expected !== 'none');
      const got = responses.messages.filter((m) => m.topic === `${topic}/response`);
      if (got.length !== want.length)
        mismatches.push(`${topic}: ${got.length} responses for ${want.length} delivered payloads`);
      want.forEach((s, i) => {
        const m = got[i];
        if (!m || s.expected === 'none') return;
        const r = json(m);
        codes.set(String(r.error), (codes.get(String(r.error)) ?? 0) + 1);
        const { status, error, command, transaction, duration_ms, detail } = r;
        const actual = {
          error,
          ...(command === undefined ? {} : { command }),
          ...(transaction === undefined ? {} : { transaction }),
        };
        const unexpectedKeys = Object.keys(r).filter((k) => !allowedKeys.has(k));
        const ok =
          status === 'error' &&
          typeof duration_ms === 'number' &&
          duration_ms >= 0 &&
          detail === undefined &&
          unexpectedKeys.length === 0 &&
          JSON.stringify(actual) === JSON.stringify(s.expected);
        if (!ok && mismatches.length < 25)
          mismatches.push(
            `${topic} #${i} [${s.category}] ${s.preview} (${s.bytes} B): want ${JSON.stringify(s.expected)}, got ${m.text}`,
          );
      });
    }
    expect(mismatches).toEqual([]);
    for (const code of codes.keys()) expect(COMMAND_ERROR_CODES as readonly string[]).toContain(code);

    const answered = responses.messages.length;

    // Nothing reached a UPS, nothing was restarted, nothing was even attempted.
    expect(sim.commands).toEqual([]);
    expect(agent.eventsOf('recovering', undefined, busMark)).toEqual([]);
    for (const name of ['driver-exited', 'upsd-exited', 'upsd-restarted', 'upsd-unresponsive'] as const)
      expect(agent.eventsOf(name, undefined, busMark), name).toEqual([]);
    expect(agent.driverPid('ups1')).toBe(pids.ups1);
    expect(agent.driverPid('q1')).toBe(pids.q1);
    expect(agent.controller.supervisor.upsdPid).toBe(upsdPid);
    for (const pid of [pids.ups1, pids.q1, upsdPid]) expect(processAlive(pid as number)).toBe(true);
    const log = readFileSync(agent.logFile, 'utf8');
    expect(log).not.toMatch(/"msg":"MQTT (instant )?command /);
    // One MQTT session for the whole run: no oversize packet or junk made the broker drop the agent.
    const clientId = agent.controller.mqtt?.clientId ?? '?';
    const connects = readFileSync(broker.logPath, 'utf8')
      .split('\n')
      .filter((l) => l.includes('New client connected') && l.includes(` as ${clientId} `));
    expect(connects).toHaveLength(1);

    // Still up: upsd answers, supervision is happy, and state still flows to MQTT.
    for (const ups of ['ups1', 'q1']) {
      expect((await lab.upsc(ups))['ups.status']).toMatch(/^OL/);
      expect(agent.controller.supervisor.ups(ups)?.snapshot().supervisor.state).toBe('ok');
    }
    expect(agent.controller.mqttConnected()).toBe(true);
    const since = states.mark();
    await lab.writeDev('ups1', { 'ups.load': 77 });
    await states.waitFor('nut/ups1', (m) => json(m)['ups.load'] === 77, { since, timeoutMs: 20_000 });
    expect(states.latest('nut/bridge/state')?.text).toBe('online');

    // The instant command path was live all along: the exact allowed command reaches the UPS.
    const mark = responses.mark();
    await publisher.publishAsync(
      'nut/q1/command',
      JSON.stringify({ command: ALLOWED, transaction: 'control' }),
      {
        qos: 1,
      },
    );
    const control = await responses.waitFor('nut/q1/command/response', undefined, { since: mark });
    expect(json(control)).toMatchObject({ status: 'ok', command: ALLOWED, transaction: 'control' });
    await waitFor('the UPS to receive Q', () => (sim.commands.includes('Q') ? true : undefined));
    expect(sim.commands).toEqual(['Q']);

    const byCategory = new Map<string, number>();
    for (const s of sent) byCategory.set(s.category, (byCategory.get(s.category) ?? 0) + 1);
    const silent = sent.filter((s) => s.expected === 'none');
    console.log(
      [
        `mqttFuzz: seed ${SEED}: ${sent.length} payloads (${GENERATED} generated, ${fixedCount} fixed, ${probes.length * 2} probes, 6 oversize) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
        `  ${answered} error responses; ${silent.length} not answered by design (oversize ${silent.filter((s) => s.category === 'oversize').length}, silent topics ${silent.filter((s) => s.category !== 'oversize').length}); ${dropped} valid commands left out of the set`,
        `  by category: ${[...byCategory].map(([k, v]) => `${k} ${v}`).join(', ')}`,
        `  by error: ${[...codes].map(([k, v]) => `${k} ${v}`).join(', ')}`,
      ].join('\n'),
    );
  }, 240_000);
});
