import type { RecoveryReason, SupervisionState } from '../supervisor/types.js';
import { buildEntity, type EntityOwner } from './entity.js';
import type { DiscoveryMessage } from './types.js';

// Records, not arrays: the compiler then insists on every member of the union, so a new state or reason added to
// supervisor/types.ts cannot be missing from the `enum` options (Home Assistant rejects a state not listed).
const STATES: Record<SupervisionState, true> = {
  starting: true,
  ok: true,
  suspect: true,
  recovering: true,
  backoff: true,
  failed: true,
  stopped: true,
};
const REASONS: Record<RecoveryReason, true> = {
  hung: true,
  stale: true,
  crashed: true,
  'not-connected': true,
  'no-data': true,
  manual: true,
  'upsd-restarted': true,
};

export const SUPERVISION_STATE_OPTIONS = Object.keys(STATES) as SupervisionState[];
export const RECOVERY_REASON_OPTIONS = Object.keys(REASONS) as RecoveryReason[];

/**
 * The supervisor's view of a UPS, as diagnostic sensors. They depend on the bridge state only: they matter most
 * while the driver is stale, when the UPS's own availability is offline.
 */
export function diagnosticEntities(owner: EntityOwner): DiscoveryMessage[] {
  const base = { entity_category: 'diagnostic', state_topic: owner.stateTopic } as const;
  return [
    buildEntity(owner, {
      component: 'sensor',
      objectId: 'supervisor_state',
      name: 'Supervisor state',
      availability: 'bridge',
      fields: {
        ...base,
        device_class: 'enum',
        options: [...SUPERVISION_STATE_OPTIONS],
        value_template: '{{ value_json.supervisor.state }}',
      },
    }),
    buildEntity(owner, {
      component: 'sensor',
      objectId: 'restart_count',
      name: 'Driver restarts',
      availability: 'bridge',
      // total_increasing: the count restarts from 0 with the agent, which Home Assistant reads as a reset.
      fields: {
        ...base,
        icon: 'mdi:restart',
        state_class: 'total_increasing',
        value_template: '{{ value_json.supervisor.restarts }}',
      },
    }),
    buildEntity(owner, {
      component: 'sensor',
      objectId: 'last_restart',
      name: 'Last driver restart',
      availability: 'bridge',
      // ISO 8601 with timezone, or null before the first restart, which renders as None (unknown).
      fields: {
        ...base,
        device_class: 'timestamp',
        value_template: '{{ value_json.supervisor.last_restart_at }}',
      },
    }),
    buildEntity(owner, {
      component: 'sensor',
      objectId: 'last_restart_reason',
      name: 'Last driver restart reason',
      availability: 'bridge',
      fields: {
        ...base,
        device_class: 'enum',
        options: [...RECOVERY_REASON_OPTIONS],
        value_template: '{{ value_json.supervisor.last_restart_reason }}',
      },
    }),
    buildEntity(owner, {
      component: 'sensor',
      objectId: 'data_age',
      name: 'Data age',
      availability: 'bridge',
      fields: {
        ...base,
        device_class: 'duration',
        unit_of_measurement: 's',
        state_class: 'measurement',
        value_template: '{{ value_json.supervisor.seconds_since_fresh }}',
      },
    }),
  ];
}
