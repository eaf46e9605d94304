import { powerOf } from '../energy/powerSource.js';
import type { UpsSnapshot } from '../supervisor/types.js';
import { buildEntity, type EntityOwner } from './entity.js';
import type { DiscoveryMessage } from './types.js';

/**
 * Power (W) and energy (kWh) for Home Assistant's energy dashboard, from the agent's own `power_w` and `energy_kwh`:
 * only for a UPS with a power source (powerOf). The power entity's attributes say which source that is.
 */
export function energyEntities(owner: EntityOwner, snapshot: UpsSnapshot): DiscoveryMessage[] {
  if (!powerOf(snapshot.vars, owner.ctx.powerFactor ?? 0)) return [];
  return [
    buildEntity(owner, {
      component: 'sensor',
      objectId: 'power',
      name: 'Power',
      availability: 'device',
      fields: {
        device_class: 'power',
        state_topic: owner.stateTopic,
        value_template: '{{ value_json.power_w }}',
        json_attributes_topic: owner.stateTopic,
        json_attributes_template: "{{ {'source': value_json.power_source} | tojson }}",
        unit_of_measurement: 'W',
        state_class: 'measurement',
        suggested_display_precision: 0,
      },
    }),
    buildEntity(owner, {
      component: 'sensor',
      objectId: 'energy',
      name: 'Energy',
      // The total stays meaningful while the data is stale: it just does not grow.
      availability: 'bridge',
      fields: {
        device_class: 'energy',
        state_topic: owner.stateTopic,
        value_template: '{{ value_json.energy_kwh }}',
        unit_of_measurement: 'kWh',
        state_class: 'total_increasing',
        suggested_display_precision: 3,
      },
    }),
  ];
}
