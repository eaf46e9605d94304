import type { SelfTestType } from '../api/commands.js';

/** What the Home Assistant discovery builders need to know about the agent. */
export interface DiscoveryContext {
  /** The agent's MQTT base topic; part of every unique_id, so two agents on one broker never collide. */
  baseTopic: string;
  /** Home Assistant's discovery prefix, `homeassistant` unless changed there. */
  discoveryPrefix: string;
  /** Human-readable name of this agent (HA_DEVICE_NAME): the agent device's name and entity-id prefix. */
  agentId: string;
  agentVersion: string;
  /** Instant commands that may be offered as buttons (and run from MQTT), exact names. */
  allowedInstcmds: readonly string[];
  origin: HaOrigin;
  /** HA_POWER_FACTOR (0 = unset): decides whether a UPS with only a VA rating has a power source. */
  powerFactor?: number;
  /** The kind of scheduled self-test, when the schedule is on (BATTERY_SELF_TEST_DAYS, allowed, credentials). */
  selfTestSchedule?: SelfTestType;
  /** BATTERY_LIFE_MONTHS (0 = no replace-by date). */
  batteryLifeMonths?: number;
}

export interface HaOrigin {
  name: string;
  sw_version?: string;
  support_url?: string;
}

export interface HaDevice {
  identifiers: string[];
  name: string;
  manufacturer?: string;
  model?: string;
  serial_number?: string;
  sw_version?: string;
  /** An identifier of the parent device (the agent). */
  via_device?: string;
}

export interface HaAvailability {
  topic: string;
}

export type HaComponent = 'sensor' | 'binary_sensor' | 'button';

/** The fields we use of Home Assistant's MQTT entity configuration (full names, no abbreviations). */
export interface EntityConfig {
  unique_id: string;
  name: string;
  /** `<domain>.<object id>`; replaces the deprecated `object_id`. */
  default_entity_id: string;
  origin: HaOrigin;
  device: HaDevice;
  availability?: HaAvailability[];
  availability_mode?: 'all' | 'any' | 'latest';
  entity_category?: 'config' | 'diagnostic';
  device_class?: string;
  icon?: string;
  state_topic?: string;
  value_template?: string;
  json_attributes_topic?: string;
  json_attributes_template?: string;
  unit_of_measurement?: string;
  state_class?: 'measurement' | 'total' | 'total_increasing';
  suggested_display_precision?: number;
  options?: string[];
  payload_on?: string;
  payload_off?: string;
  command_topic?: string;
  payload_press?: string;
}

export interface DiscoveryMessage {
  /** `<prefix>/<component>/<node_id>/<object_id>/config`, published retained. */
  topic: string;
  component: HaComponent;
  payload: EntityConfig;
}
