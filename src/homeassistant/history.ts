import { SELF_TEST_INSTCMDS, SELF_TEST_TYPES } from '../api/commands.js';
import { topicsFor } from '../api/topics.js';
import { powerOf } from '../energy/powerSource.js';
import { batteryDateOf } from '../history/batteryCare.js';
import { SELF_TEST_RESULTS } from '../history/selfTest.js';
import type { UpsSnapshot } from '../supervisor/types.js';
import { buildEntity, type EntityOwner, type EntitySpec } from './entity.js';
import type { DiscoveryMessage } from './types.js';

/**
 * A number of the history state, or None (unknown) when it is null: the agent's own keys have no dots, so the dot
 * form reads them (NUT variables use numberTemplate's bracket form).
 */
export function historyNumberTemplate(key: string): string {
  return `{{ value_json.${key} if value_json.${key} is number else None }}`;
}

/** One entity read from the UPS's history topic. */
type HistorySpec = Pick<EntitySpec, 'component' | 'objectId' | 'name' | 'availability'> & {
  fields: Omit<EntitySpec['fields'], 'state_topic' | 'json_attributes_topic'>;
  /** Keys of the history JSON shown as the entity's attributes. */
  attributes?: Readonly<Record<string, string>>;
};

const seconds = (key: string) =>
  ({
    device_class: 'duration',
    unit_of_measurement: 's',
    state_class: 'measurement',
    suggested_display_precision: 0,
    value_template: historyNumberTemplate(key),
  }) as const;
const timestamp = (key: string) => ({ device_class: 'timestamp', value_template: `{{ value_json.${key} }}` });
const count = (key: string) =>
  ({ icon: 'mdi:counter', state_class: 'measurement', value_template: historyNumberTemplate(key) }) as const;

/**
 * Outages, for a UPS that reports ups.status. The live time on battery follows the UPS's availability; the history
 * stays readable while the UPS's data is stale (bridge availability), as the energy total does.
 */
const OUTAGE_ENTITIES: readonly HistorySpec[] = [
  {
    component: 'sensor',
    objectId: 'time_on_battery',
    name: 'Time on battery',
    availability: 'device',
    fields: { icon: 'mdi:battery-clock', ...seconds('time_on_battery_s') },
    attributes: { since: 'on_battery_since' },
  },
  {
    component: 'sensor',
    objectId: 'last_outage_start',
    name: 'Last outage start',
    availability: 'bridge',
    fields: timestamp('last_outage_start'),
  },
  {
    component: 'sensor',
    objectId: 'last_outage_end',
    name: 'Last outage end',
    availability: 'bridge',
    fields: timestamp('last_outage_end'),
  },
  {
    component: 'sensor',
    objectId: 'last_outage_duration',
    name: 'Last outage duration',
    availability: 'bridge',
    fields: seconds('last_outage_duration_s'),
    attributes: { complete: 'last_outage_complete' },
  },
  {
    component: 'sensor',
    objectId: 'longest_outage',
    name: 'Longest outage',
    availability: 'bridge',
    fields: seconds('longest_outage_duration_s'),
    attributes: { start: 'longest_outage_start', end: 'longest_outage_end' },
  },
  {
    component: 'sensor',
    objectId: 'outages_24h',
    name: 'Outages (24 h)',
    availability: 'bridge',
    fields: count('outages_24h'),
    attributes: { unwatched_s: 'unwatched_24h_s' },
  },
  {
    component: 'sensor',
    objectId: 'time_on_battery_24h',
    name: 'Time on battery (24 h)',
    availability: 'bridge',
    fields: seconds('on_battery_24h_s'),
    attributes: { unwatched_s: 'unwatched_24h_s' },
  },
  {
    component: 'sensor',
    objectId: 'outages_30d',
    name: 'Outages (30 days)',
    availability: 'bridge',
    fields: count('outages_30d'),
    attributes: { unwatched_s: 'unwatched_30d_s' },
  },
  {
    component: 'sensor',
    objectId: 'time_on_battery_30d',
    name: 'Time on battery (30 days)',
    availability: 'bridge',
    fields: seconds('on_battery_30d_s'),
    attributes: { unwatched_s: 'unwatched_30d_s' },
  },
];

/** The RB flag or a failed self-test, with the reason as an attribute: for a UPS that reports ups.status. */
const BATTERY_ATTENTION: HistorySpec = {
  component: 'binary_sensor',
  objectId: 'battery_attention',
  name: 'Battery needs attention',
  availability: 'bridge',
  fields: {
    device_class: 'problem',
    payload_on: 'ON',
    payload_off: 'OFF',
    value_template: "{{ 'ON' if value_json.battery_attention else 'OFF' }}",
  },
  attributes: { reason: 'battery_attention_text', reasons: 'battery_attention_reasons' },
};

/**
 * The energy drawn from the battery in the last outage: only for a UPS with a power source. No device class: Home
 * Assistant's `energy` class is for totals, and this is one outage's figure.
 */
const OUTAGE_ENERGY: HistorySpec = {
  component: 'sensor',
  objectId: 'last_outage_energy',
  name: 'Last outage energy',
  availability: 'bridge',
  fields: {
    icon: 'mdi:battery-arrow-down',
    unit_of_measurement: 'Wh',
    state_class: 'measurement',
    suggested_display_precision: 1,
    value_template: historyNumberTemplate('last_outage_battery_wh'),
  },
};

/** Self-test results, for a UPS whose driver has a test command (test.battery.start.quick or .deep). */
const SELF_TEST_ENTITIES: readonly HistorySpec[] = [
  {
    component: 'sensor',
    objectId: 'self_test_result',
    name: 'Self-test result',
    availability: 'bridge',
    fields: {
      device_class: 'enum',
      icon: 'mdi:battery-check',
      options: [...SELF_TEST_RESULTS],
      value_template: '{{ value_json.self_test_result }}',
    },
    attributes: {
      detail: 'self_test_detail',
      test: 'self_test_type',
      origin: 'self_test_origin',
      started_at: 'self_test_started_at',
      running: 'self_test_running',
    },
  },
  {
    component: 'sensor',
    objectId: 'last_self_test',
    name: 'Last self-test',
    availability: 'bridge',
    fields: timestamp('self_test_at'),
  },
];

const NEXT_SELF_TEST: HistorySpec = {
  component: 'sensor',
  objectId: 'next_self_test',
  name: 'Next self-test',
  availability: 'bridge',
  fields: timestamp('next_self_test_at'),
};

/** Battery age and replace-by date, for a UPS that reports a usable battery date. */
const BATTERY_AGE: HistorySpec = {
  component: 'sensor',
  objectId: 'battery_age',
  name: 'Battery age',
  availability: 'bridge',
  fields: {
    device_class: 'duration',
    unit_of_measurement: 'd',
    state_class: 'measurement',
    value_template: historyNumberTemplate('battery_age_days'),
  },
  attributes: { date: 'battery_date', source: 'battery_date_source' },
};

const BATTERY_REPLACE_BY: HistorySpec = {
  component: 'sensor',
  objectId: 'battery_replace_by',
  name: 'Battery replace by',
  availability: 'bridge',
  fields: {
    device_class: 'date',
    icon: 'mdi:battery-sync',
    value_template: '{{ value_json.battery_replace_by }}',
  },
};

/** Whether the UPS lists the instant command of any self-test. */
export function canSelfTest(snapshot: UpsSnapshot): boolean {
  return SELF_TEST_TYPES.some((type) => snapshot.commands.includes(SELF_TEST_INSTCMDS[type]));
}

/**
 * Outages, self-tests and battery care, read from `<base>/<ups>/history`. The buttons that start a self-test are the
 * instant-command buttons of test.battery.start.quick / .deep (buttons.ts): allowed and listed, and followed.
 */
export function historyEntities(owner: EntityOwner, snapshot: UpsSnapshot): DiscoveryMessage[] {
  const { ctx } = owner;
  const specs: HistorySpec[] = [];
  if (snapshot.vars['ups.status'] !== undefined) specs.push(...OUTAGE_ENTITIES, BATTERY_ATTENTION);
  if (powerOf(snapshot.vars, ctx.powerFactor ?? 0)) specs.push(OUTAGE_ENERGY);
  if (canSelfTest(snapshot)) specs.push(...SELF_TEST_ENTITIES);
  const scheduled = ctx.selfTestSchedule;
  if (scheduled && snapshot.commands.includes(SELF_TEST_INSTCMDS[scheduled])) specs.push(NEXT_SELF_TEST);
  if (hasBatteryDate(snapshot)) {
    specs.push(BATTERY_AGE);
    if ((ctx.batteryLifeMonths ?? 0) > 0) specs.push(BATTERY_REPLACE_BY);
  }
  const topic = topicsFor(ctx.baseTopic).upsHistory(snapshot.name);
  return specs.map(({ attributes, fields, ...spec }) =>
    buildEntity(owner, {
      ...spec,
      fields: {
        state_topic: topic,
        ...fields,
        ...(attributes
          ? { json_attributes_topic: topic, json_attributes_template: attributesTemplate(attributes) }
          : {}),
      },
    }),
  );
}

/** `{{ {'since': value_json.on_battery_since} | tojson }}`. */
function attributesTemplate(attributes: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(attributes).map(([name, key]) => `'${name}': value_json.${key}`);
  return `{{ {${pairs.join(', ')}} | tojson }}`;
}

/**
 * Whether the UPS reports a usable battery date (not CyberPower's `CPS`). No clock here: a date in the future (a UPS
 * whose clock is wrong) still gets the entities, whose age then reads unknown.
 */
function hasBatteryDate(snapshot: UpsSnapshot): boolean {
  return batteryDateOf(snapshot.vars, Number.POSITIVE_INFINITY) !== undefined;
}

/** What of a snapshot the history entities depend on beyond its variable names and commands. */
export function historyInputKey(snapshot: UpsSnapshot): string {
  return hasBatteryDate(snapshot) ? 'battery-date' : '';
}
