import type { Schema } from 'convict';
import { SELF_TEST_TYPES, type SelfTestType } from '../api/commands.js';
import { count } from './formats.js';

/** `AgentConfigShape['battery']`: here, beside its schema, so this file needs nothing of schema.ts. */
export interface BatterySettings {
  selfTestDays: number;
  selfTestAt: string;
  selfTestType: SelfTestType;
  selfTestMinCharge: number;
  lifeMonths: number;
}

/** Battery care: the self-test schedule and the battery's expected life (env prefix BATTERY_). */
export const batterySchema: Schema<BatterySettings> = {
  selfTestDays: {
    doc: 'Self-test schedule: days between battery self-tests (a count of days, not milliseconds). 0: no schedule. A scheduled test never starts while the UPS is on battery, below BATTERY_SELF_TEST_MIN_CHARGE, while its driver is being recovered or while a test runs; it needs the test command in MQTT_INSTCMD_ALLOW and NUT_USERNAME.',
    ...count(0, 366),
    default: 0,
  },
  selfTestAt: {
    doc: "Self-test schedule: local time of day (HH:MM, the agent's time zone, TZ) from which a due test may start; the window lasts an hour, then the test waits for the next day's.",
    format: 'time-of-day',
    default: '03:00',
  },
  selfTestType: {
    doc: 'Self-test schedule: `quick` (test.battery.start.quick) or `deep` (test.battery.start.deep, runs the battery down).',
    format: [...SELF_TEST_TYPES],
    default: 'quick',
  },
  selfTestMinCharge: {
    doc: 'Self-test schedule: battery.charge (%) below which a scheduled test waits. A UPS that reports no battery.charge gets no scheduled test.',
    ...count(0, 100),
    default: 90,
  },
  lifeMonths: {
    doc: "Expected battery life in months, for the 'replace by' date: the battery's date (battery.date, else battery.mfr.date, where the UPS reports one) plus this. 0: no replace-by date.",
    ...count(0, 600),
    default: 36,
  },
};
