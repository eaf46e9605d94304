import { createHash } from 'node:crypto';
import { BRIDGE_LEVEL, topicsFor } from '../api/topics.js';
import type { UpsSnapshot } from '../supervisor/types.js';
import { bridgeDevice, bridgeDeviceId, upsDevice, upsDeviceId } from './device.js';
import type {
  DiscoveryContext,
  DiscoveryMessage,
  EntityConfig,
  HaAvailability,
  HaComponent,
  HaDevice,
} from './types.js';

/**
 * What every entity of one device shares: its device, where its ids come from, its state and availability
 * topics. Built once per device by upsOwner()/bridgeOwner(), then handed to the per-kind builders.
 */
export interface EntityOwner {
  ctx: DiscoveryContext;
  device: HaDevice;
  /** Discovery topic node_id: `[a-zA-Z0-9_-]` only. */
  nodeId: string;
  /** unique_id = this + object id: the device identifier and `/` (see ownIdPrefix). */
  uniqueIdPrefix: string;
  /** default_entity_id = `<domain>.` + this + `_` + object id. */
  entityIdPrefix: string;
  /** `<base>/<ups>` for a UPS; the agent has no JSON state topic. */
  stateTopic?: string;
  commandTopic: string;
  /** The bridge state, then (for a UPS) the UPS's own availability. */
  availability: HaAvailability[];
  /** The bridge state only. */
  bridgeAvailability: HaAvailability[];
}

export function upsOwner(snapshot: UpsSnapshot, ctx: DiscoveryContext): EntityOwner {
  const topics = topicsFor(ctx.baseTopic);
  const bridge = { topic: topics.bridgeState };
  return {
    ctx,
    device: upsDevice(snapshot, ctx),
    nodeId: `${sanitizeId(ctx.baseTopic)}_${sanitizeId(snapshot.name)}`,
    uniqueIdPrefix: `${upsDeviceId(ctx.baseTopic, snapshot.name)}/`,
    entityIdPrefix: entitySlug(snapshot.name, 'ups'),
    stateTopic: topics.upsState(snapshot.name),
    commandTopic: topics.upsCommand(snapshot.name),
    availability: [bridge, { topic: topics.upsAvailability(snapshot.name) }],
    bridgeAvailability: [bridge],
  };
}

export function bridgeOwner(ctx: DiscoveryContext): EntityOwner {
  const topics = topicsFor(ctx.baseTopic);
  const bridge = { topic: topics.bridgeState };
  return {
    ctx,
    device: bridgeDevice(ctx),
    // A UPS cannot be named `bridge` (checkUpsName), so this node id is the agent's alone.
    nodeId: `${sanitizeId(ctx.baseTopic)}_${BRIDGE_LEVEL}`,
    uniqueIdPrefix: `${bridgeDeviceId(ctx.baseTopic)}/`,
    entityIdPrefix: entitySlug(ctx.agentId, 'nut_mqtt'),
    commandTopic: topics.bridgeCommand,
    availability: [bridge],
    bridgeAvailability: [bridge],
  };
}

export interface EntitySpec {
  component: HaComponent;
  /** `[a-z0-9_-]`; unique within the device and component. */
  objectId: string;
  name: string;
  /**
   * `device`: the owner's full availability list. `bridge`: only the agent's state, for entities that must stay
   * readable or usable while the UPS's data is stale (driver problem, supervisor diagnostics, restart button).
   * `none`: always available (the agent's connection state, which reports the bridge state itself).
   */
  availability: 'device' | 'bridge' | 'none';
  fields: Omit<
    EntityConfig,
    'unique_id' | 'name' | 'default_entity_id' | 'origin' | 'device' | 'availability'
  >;
}

export function buildEntity(owner: EntityOwner, spec: EntitySpec): DiscoveryMessage {
  const { ctx } = owner;
  const payload: EntityConfig = {
    unique_id: `${owner.uniqueIdPrefix}${spec.objectId}`,
    name: spec.name,
    default_entity_id: `${spec.component}.${entitySlug(`${owner.entityIdPrefix}_${spec.objectId}`, 'nut_mqtt')}`,
    origin: ctx.origin,
    device: owner.device,
    ...(spec.availability === 'none'
      ? {}
      : {
          availability: spec.availability === 'device' ? owner.availability : owner.bridgeAvailability,
          availability_mode: 'all' as const,
        }),
    ...spec.fields,
  };
  return {
    topic: `${ctx.discoveryPrefix}/${spec.component}/${owner.nodeId}/${spec.objectId}/config`,
    component: spec.component,
    payload,
  };
}

/**
 * `{{ value_json['battery.charge'] if value_json['battery.charge'] is number else None }}`, for numeric sensors:
 * bracket form, because NUT names contain dots. The agent's state already carries these variables as a number or
 * null; the guard holds whatever else reaches the topic (an older agent's retained state, a variable gone from the
 * UPS): Home Assistant reads the rendered `None` as unknown, where a word (`XX.X`) would be refused by a sensor with
 * a unit and an empty result (an absent key) would leave the last value standing.
 */
export function numberTemplate(variable: string): string {
  const value = `value_json['${variable}']`;
  return `{{ ${value} if ${value} is number else None }}`;
}

/**
 * An entity-id slug as Home Assistant accepts it: lower-case `[a-z0-9_]`, no leading, trailing or double `_`.
 * Accents are dropped (`Büro` → `buro`); an empty result becomes `fallback`.
 */
export function entitySlug(text: string, fallback: string): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return slug.length > 0 ? slug : fallback;
}

/**
 * Reduces a name to `[a-zA-Z0-9_-]`, the alphabet Home Assistant allows in discovery node and object ids.
 * Names already in that alphabet are kept as they are (readable ids for the usual `ups1`, `server_room`).
 * Any other character becomes `_`, and then a short hash of the original is appended, so names that differ
 * only in replaced characters (`ups.1`, `ups 1`, `ups_1`) still get distinct ids.
 */
export function sanitizeId(name: string): string {
  if (/^[a-zA-Z0-9_-]+$/.test(name)) return name;
  const replaced = name.replace(/[^a-zA-Z0-9_-]/g, '_');
  const hash = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 8);
  return `${replaced}_${hash}`;
}
