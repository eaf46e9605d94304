import { EPISODE_KINDS, type EpisodeKind } from '../hints/episodeCounter.js';
import { RECOVERY_REASONS, SUPERVISION_STATES, type UpsSnapshot } from '../supervisor/types.js';
import { isUsbDriver } from '../usb/usbMatch.js';
import { USB_PROBLEMS } from '../usb/usbProblem.js';
import { buildEntity, type EntityOwner, type EntitySpec } from './entity.js';
import type { DiscoveryMessage } from './types.js';

type DiagnosticSensor = Pick<EntitySpec, 'objectId' | 'name'> & { fields: EntitySpec['fields'] };

// The enum options come from the supervisor's own lists: Home Assistant rejects a state its options do not list.
const DIAGNOSTIC_SENSORS: readonly DiagnosticSensor[] = [
  {
    objectId: 'supervisor_state',
    name: 'Supervisor state',
    fields: {
      device_class: 'enum',
      options: [...SUPERVISION_STATES],
      value_template: '{{ value_json.supervisor.state }}',
    },
  },
  {
    objectId: 'restart_count',
    name: 'Driver restarts',
    // total_increasing: the count restarts from 0 with the agent, which Home Assistant reads as a reset.
    fields: {
      icon: 'mdi:restart',
      state_class: 'total_increasing',
      value_template: '{{ value_json.supervisor.restarts }}',
    },
  },
  {
    objectId: 'last_restart',
    name: 'Last driver restart',
    // ISO 8601 with timezone, or null before the first restart, which renders as None (unknown).
    fields: { device_class: 'timestamp', value_template: '{{ value_json.supervisor.last_restart_at }}' },
  },
  {
    objectId: 'last_restart_reason',
    name: 'Last driver restart reason',
    fields: {
      device_class: 'enum',
      options: [...RECOVERY_REASONS],
      value_template: '{{ value_json.supervisor.last_restart_reason }}',
    },
  },
  {
    objectId: 'data_age',
    name: 'Data age',
    fields: {
      device_class: 'duration',
      unit_of_measurement: 's',
      state_class: 'measurement',
      value_template: '{{ value_json.supervisor.seconds_since_fresh }}',
    },
  },
  ...EPISODE_KINDS.map(episodeSensor),
];

/** Why a USB driver cannot get at its device (`none` while it can): only for UPSes on a USB driver. */
const USB_PROBLEM_SENSOR: DiagnosticSensor = {
  objectId: 'usb_problem',
  name: 'USB problem',
  fields: {
    device_class: 'enum',
    icon: 'mdi:usb',
    options: ['none', ...USB_PROBLEMS],
    value_template: "{{ value_json.supervisor.usb_problem or 'none' }}",
  },
};

/**
 * Fault episodes of one kind in the last 24 h (the tuning hints' counter). `measurement`, not `total_increasing`:
 * the count falls as old episodes leave the window. No unit: a count of events, which Home Assistant takes as is.
 */
function episodeSensor(kind: EpisodeKind): DiagnosticSensor {
  const label = { stale: 'Stale', hang: 'Hang', spin: 'Spin' }[kind];
  return {
    objectId: `${kind}_episodes_24h`,
    name: `${label} episodes (24 h)`,
    fields: {
      icon: 'mdi:counter',
      state_class: 'measurement',
      value_template: `{{ value_json.supervisor.episodes_24h.${kind} }}`,
    },
  };
}

/**
 * The supervisor's view of a UPS, as diagnostic sensors. They depend on the bridge state only: they matter most
 * while the driver is stale, when the UPS's own availability is offline.
 */
export function diagnosticEntities(owner: EntityOwner, snapshot: UpsSnapshot): DiscoveryMessage[] {
  const sensors = isUsbDriver(snapshot.driver)
    ? [...DIAGNOSTIC_SENSORS, USB_PROBLEM_SENSOR]
    : DIAGNOSTIC_SENSORS;
  return sensors.map(({ objectId, name, fields }) =>
    buildEntity(owner, {
      component: 'sensor',
      objectId,
      name,
      availability: 'bridge',
      fields: { entity_category: 'diagnostic', state_topic: owner.stateTopic, ...fields },
    }),
  );
}
