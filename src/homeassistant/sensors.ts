import type { UpsSnapshot } from '../supervisor/types.js';
import { buildEntity, type EntityOwner, numberTemplate } from './entity.js';
import type { DiscoveryMessage } from './types.js';

export interface NumericSensorSpec {
  /** The NUT variable; the sensor exists only when the UPS reports it. */
  variable: string;
  objectId: string;
  name: string;
  /** Home Assistant sensor device class; none for `ups.load`, as in Home Assistant's own NUT integration. */
  deviceClass?: string;
  /** Exactly as Home Assistant spells it (case-sensitive): `V`, not `v`. Checked against HA's list in a test. */
  unit: string;
  precision?: number;
}

/** Measurements, mapped as Home Assistant's own NUT integration maps them. All are `state_class: measurement`. */
export const NUMERIC_SENSORS: readonly NumericSensorSpec[] = [
  {
    variable: 'battery.charge',
    objectId: 'battery_charge',
    name: 'Battery charge',
    deviceClass: 'battery',
    unit: '%',
  },
  {
    variable: 'battery.runtime',
    objectId: 'battery_runtime',
    name: 'Battery runtime',
    deviceClass: 'duration',
    unit: 's',
  },
  {
    variable: 'battery.voltage',
    objectId: 'battery_voltage',
    name: 'Battery voltage',
    deviceClass: 'voltage',
    unit: 'V',
    precision: 1,
  },
  {
    variable: 'battery.temperature',
    objectId: 'battery_temperature',
    name: 'Battery temperature',
    deviceClass: 'temperature',
    unit: '°C',
    precision: 1,
  },
  {
    variable: 'input.voltage',
    objectId: 'input_voltage',
    name: 'Input voltage',
    deviceClass: 'voltage',
    unit: 'V',
    precision: 1,
  },
  {
    variable: 'input.frequency',
    objectId: 'input_frequency',
    name: 'Input frequency',
    deviceClass: 'frequency',
    unit: 'Hz',
    precision: 1,
  },
  {
    variable: 'input.current',
    objectId: 'input_current',
    name: 'Input current',
    deviceClass: 'current',
    unit: 'A',
    precision: 2,
  },
  {
    variable: 'output.voltage',
    objectId: 'output_voltage',
    name: 'Output voltage',
    deviceClass: 'voltage',
    unit: 'V',
    precision: 1,
  },
  {
    variable: 'output.frequency',
    objectId: 'output_frequency',
    name: 'Output frequency',
    deviceClass: 'frequency',
    unit: 'Hz',
    precision: 1,
  },
  {
    variable: 'output.current',
    objectId: 'output_current',
    name: 'Output current',
    deviceClass: 'current',
    unit: 'A',
    precision: 2,
  },
  { variable: 'ups.load', objectId: 'load', name: 'Load', unit: '%' },
  { variable: 'ups.realpower', objectId: 'real_power', name: 'Real power', deviceClass: 'power', unit: 'W' },
  {
    variable: 'ups.power',
    objectId: 'apparent_power',
    name: 'Apparent power',
    deviceClass: 'apparent_power',
    unit: 'VA',
  },
  {
    variable: 'ups.temperature',
    objectId: 'temperature',
    name: 'Temperature',
    deviceClass: 'temperature',
    unit: '°C',
    precision: 1,
  },
];

/** One sensor per measurement the UPS reports, plus the readable status when it reports ups.status. */
export function sensorEntities(owner: EntityOwner, snapshot: UpsSnapshot): DiscoveryMessage[] {
  const messages: DiscoveryMessage[] = [];
  for (const spec of NUMERIC_SENSORS) {
    if (snapshot.vars[spec.variable] === undefined) continue;
    messages.push(
      buildEntity(owner, {
        component: 'sensor',
        objectId: spec.objectId,
        name: spec.name,
        availability: 'device',
        fields: {
          ...(spec.deviceClass === undefined ? {} : { device_class: spec.deviceClass }),
          state_topic: owner.stateTopic,
          value_template: numberTemplate(spec.variable),
          unit_of_measurement: spec.unit,
          state_class: 'measurement',
          ...(spec.precision === undefined ? {} : { suggested_display_precision: spec.precision }),
        },
      }),
    );
  }
  if (snapshot.vars['ups.status'] !== undefined) {
    // Free text ("Online, charging"), so no enum device class: the combinations of flags are open-ended.
    messages.push(
      buildEntity(owner, {
        component: 'sensor',
        objectId: 'status',
        name: 'Status',
        availability: 'device',
        fields: {
          icon: 'mdi:information-outline',
          state_topic: owner.stateTopic,
          value_template: '{{ value_json.status_label }}',
        },
      }),
    );
  }
  return messages;
}
