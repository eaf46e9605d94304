import { checkUpsName, topicsFor } from '../api/topics.js';
import type { UpsSnapshot } from '../supervisor/types.js';
import { binarySensorEntities } from './binarySensors.js';
import { bridgeButtonEntities, upsButtonEntities } from './buttons.js';
import { DEVICE_VARIABLES, ownIdPrefix } from './device.js';
import { diagnosticEntities } from './diagnostics.js';
import { energyEntities } from './energy.js';
import { bridgeOwner, buildEntity, upsOwner } from './entity.js';
import { historyEntities, historyInputKey } from './history.js';
import { sensorEntities } from './sensors.js';
import { stableStringify } from './stableStringify.js';
import type { DiscoveryContext, DiscoveryMessage, EntityConfig, HaComponent } from './types.js';

/**
 * Home Assistant discovery for one UPS: its sensors, binary sensors, supervisor diagnostics and buttons. Each
 * measurement entity exists only if the UPS reports its variable. A UPS whose name cannot be a topic level
 * (see checkUpsName) gets nothing; callers report such names when they read ups.conf.
 */
export function buildDiscovery(snapshot: UpsSnapshot, ctx: DiscoveryContext): DiscoveryMessage[] {
  if (!checkUpsName(snapshot.name).ok) return [];
  const owner = upsOwner(snapshot, ctx);
  return [
    ...sensorEntities(owner, snapshot),
    ...energyEntities(owner, snapshot),
    ...historyEntities(owner, snapshot),
    ...binarySensorEntities(owner, snapshot),
    ...diagnosticEntities(owner, snapshot),
    ...upsButtonEntities(owner, snapshot),
  ];
}

/** Discovery for the agent's own device: the restart-upsd button and the connection state. */
export function buildBridgeDiscovery(ctx: DiscoveryContext): DiscoveryMessage[] {
  const owner = bridgeOwner(ctx);
  return [
    ...bridgeButtonEntities(owner),
    buildEntity(owner, {
      component: 'binary_sensor',
      objectId: 'connection_state',
      name: 'Connection state',
      // Reports the bridge state itself; with that state as its availability it could never show "off".
      availability: 'none',
      fields: {
        device_class: 'connectivity',
        entity_category: 'diagnostic',
        state_topic: topicsFor(ctx.baseTopic).bridgeState,
        payload_on: 'online',
        payload_off: 'offline',
      },
    }),
  ];
}

/**
 * Everything the agent should have on the broker: its own device, then every UPS (the `next` that diffDiscovery
 * needs). The keep rule: a UPS without fresh data (driver starting or restarting, when upsd serves little more than
 * `ups.status: WAIT`) keeps what was last sent for it (`lastSent`, topic → payload), if anything was: rebuilding it
 * from that snapshot would delete its sensors from Home Assistant until the data is back, and with them the user's
 * entity settings.
 */
export function wantedDiscovery(
  snapshots: readonly UpsSnapshot[],
  lastSent: ReadonlyMap<string, string>,
  ctx: DiscoveryContext,
): DiscoveryMessage[] {
  const messages = buildBridgeDiscovery(ctx);
  for (const snapshot of snapshots) {
    const built = buildDiscovery(snapshot, ctx);
    const nodeId = nodeIdOf(built[0]?.topic);
    const kept =
      snapshot.supervisor.state === 'ok' || nodeId === undefined
        ? []
        : [...lastSent].filter(([topic]) => nodeIdOf(topic) === nodeId);
    messages.push(...(kept.length > 0 ? kept.map(([topic, payload]) => keptMessage(topic, payload)) : built));
  }
  return messages;
}

/** `<prefix>/<component>/<node_id>/<object_id>/config` → node_id. */
function nodeIdOf(topic: string | undefined): string | undefined {
  return topic?.split('/')[2];
}

function keptMessage(topic: string, payload: string): DiscoveryMessage {
  return {
    topic,
    component: topic.split('/')[1] as HaComponent,
    payload: JSON.parse(payload) as EntityConfig,
  };
}

export interface DiscoveryDiff {
  /** New or changed configs, to publish retained (payload = stable JSON). */
  publish: Array<{ topic: string; payload: string }>;
  /** Topics no longer wanted, to clear with an empty retained payload (a UPS removed, a variable gone). */
  clear: string[];
  /** What was last sent once `publish` and `clear` are done: the `previous` of the next call. */
  next: Map<string, string>;
}

/**
 * Compares what should be published with what was last sent (topic → payload string). `next` must be the full
 * set (wantedDiscovery): every previous topic missing from it is cleared. At start-up, seed `previous` with
 * the agent's own retained configs found on the broker (ownsDiscoveryConfig) so leftovers of an earlier run
 * are cleared too.
 */
export function diffDiscovery(
  previous: ReadonlyMap<string, string>,
  next: readonly DiscoveryMessage[],
): DiscoveryDiff {
  const wanted = new Map<string, string>();
  for (const message of next) wanted.set(message.topic, stableStringify(message.payload));
  const publish: DiscoveryDiff['publish'] = [];
  for (const [topic, payload] of wanted) {
    if (previous.get(topic) !== payload) publish.push({ topic, payload });
  }
  const clear = [...previous.keys()].filter((topic) => !wanted.has(topic)).sort();
  return { publish, clear, next: wanted };
}

/**
 * Whether a retained config found on the broker is one of this agent's: under the discovery prefix, and its
 * unique_id is `nut-mqtt/<base>/<device>/<object id>` for this base (an agent on base `nut/x` is not the one on
 * `nut`). Empty, malformed or foreign payloads are not ours.
 */
export function ownsDiscoveryConfig(topic: string, payload: Buffer | string, ctx: DiscoveryContext): boolean {
  if (!topic.startsWith(`${ctx.discoveryPrefix}/`) || !topic.endsWith('/config')) return false;
  const text = typeof payload === 'string' ? payload : payload.toString('utf8');
  if (text.length === 0) return false;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null) return false;
    const uniqueId = (parsed as { unique_id?: unknown }).unique_id;
    const prefix = ownIdPrefix(ctx.baseTopic);
    if (typeof uniqueId !== 'string' || !uniqueId.startsWith(prefix)) return false;
    // Exactly `<device>/<object id>` after the prefix: more levels belong to an agent whose base extends ours.
    return uniqueId.slice(prefix.length).split('/').length === 2;
  } catch {
    return false;
  }
}

/** Subscription filter for every single-component config topic under the prefix (to find leftovers). */
export function discoveryConfigFilter(discoveryPrefix: string): string {
  return `${discoveryPrefix}/+/+/+/config`;
}

/** Whether a received topic matches discoveryConfigFilter (the retained-config scan receives these). */
export function isDiscoveryConfigTopic(topic: string, discoveryPrefix: string): boolean {
  const levels = topic.split('/');
  return levels.length === 5 && levels[0] === discoveryPrefix && levels[4] === 'config';
}

/**
 * Everything of a snapshot that its discovery configs depend on: which variables exist (not their values, except
 * the device's identity), the description and the instant commands. Two snapshots with the same key produce the
 * same configs, so the bridge rebuilds discovery only when this key changes, not on every new reading.
 */
export function discoveryInputKey(snapshot: UpsSnapshot): string {
  const names = Object.keys(snapshot.vars).sort();
  const identity = DEVICE_VARIABLES.map((name) => snapshot.vars[name] ?? '');
  return JSON.stringify([
    names,
    identity,
    snapshot.description ?? '',
    [...snapshot.commands].sort(),
    historyInputKey(snapshot),
  ]);
}
