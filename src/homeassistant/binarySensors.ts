import type { UpsSnapshot } from '../supervisor/types.js';
import { buildEntity, type EntityOwner } from './entity.js';
import type { DiscoveryMessage } from './types.js';

const ON = 'ON';
const OFF = 'OFF';

// `| default('')` keeps the template quiet if a state message lacks ups.status; split() makes it a flag list.
const FLAGS = "(value_json['ups.status'] | default('')).split()";

/**
 * Mains power: device class `power`, where on means power IS present. So OB (on battery) is OFF, OL is ON, and
 * anything else (WAIT, OFF, bypass only) is `None`, which Home Assistant shows as unknown.
 */
export const MAINS_POWER_TEMPLATE = `{% set f = ${FLAGS} %}{{ '${OFF}' if 'OB' in f else '${ON}' if 'OL' in f else 'None' }}`;
/** Device class `battery`: on means low. */
export const LOW_BATTERY_TEMPLATE = `{{ '${ON}' if 'LB' in ${FLAGS} else '${OFF}' }}`;
/** Device class `problem`: on means the battery needs replacing. */
export const REPLACE_BATTERY_TEMPLATE = `{{ '${ON}' if 'RB' in ${FLAGS} else '${OFF}' }}`;
/** Device class `problem`: on while the supervisor has no fresh data from the driver. */
export const DRIVER_PROBLEM_TEMPLATE = `{{ '${OFF}' if value_json.supervisor.state == 'ok' else '${ON}' }}`;

/**
 * The ups.status flags as binary sensors (only when the UPS reports ups.status), and the driver-problem sensor
 * (always). The driver-problem sensor depends on the bridge state only: with the UPS's own availability it
 * would turn unavailable exactly when it should say "problem".
 */
export function binarySensorEntities(owner: EntityOwner, snapshot: UpsSnapshot): DiscoveryMessage[] {
  const base = { state_topic: owner.stateTopic, payload_on: ON, payload_off: OFF };
  const messages: DiscoveryMessage[] = [];
  if (snapshot.vars['ups.status'] !== undefined) {
    messages.push(
      buildEntity(owner, {
        component: 'binary_sensor',
        objectId: 'mains_power',
        name: 'Mains power',
        availability: 'device',
        fields: { device_class: 'power', ...base, value_template: MAINS_POWER_TEMPLATE },
      }),
      buildEntity(owner, {
        component: 'binary_sensor',
        objectId: 'low_battery',
        name: 'Low battery',
        availability: 'device',
        fields: { device_class: 'battery', ...base, value_template: LOW_BATTERY_TEMPLATE },
      }),
      buildEntity(owner, {
        component: 'binary_sensor',
        objectId: 'replace_battery',
        name: 'Replace battery',
        availability: 'device',
        fields: { device_class: 'problem', ...base, value_template: REPLACE_BATTERY_TEMPLATE },
      }),
    );
  }
  messages.push(
    buildEntity(owner, {
      component: 'binary_sensor',
      objectId: 'driver_problem',
      name: 'Driver problem',
      availability: 'bridge',
      fields: {
        device_class: 'problem',
        entity_category: 'diagnostic',
        ...base,
        value_template: DRIVER_PROBLEM_TEMPLATE,
      },
    }),
  );
  return messages;
}
