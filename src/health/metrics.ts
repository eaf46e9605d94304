import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EventBus } from '../events.js';
import type { Extension } from '../extension.js';
import { EPISODE_KINDS, type EpisodeCounts } from '../hints/episodeCounter.js';
import { statusFlags } from '../nut/upsStatus.js';
import { parseMeasurement } from '../nut/values.js';
import { SUPERVISION_STATES, type UpsSnapshot } from '../supervisor/types.js';

/** NUT variables exported as gauges (read as the state reads measurements: parseMeasurement), by NUT name. */
const NUT_GAUGES: Record<string, [string, string]> = {
  'battery.charge': ['nut_battery_charge_percent', 'Battery charge (percent)'],
  'battery.runtime': ['nut_battery_runtime_seconds', 'Battery runtime (seconds)'],
  'battery.voltage': ['nut_battery_voltage_volts', 'Battery voltage (V)'],
  'input.voltage': ['nut_input_voltage_volts', 'Input voltage (V)'],
  'input.frequency': ['nut_input_frequency_hertz', 'Input frequency (Hz)'],
  'output.voltage': ['nut_output_voltage_volts', 'Output voltage (V)'],
  'ups.load': ['nut_ups_load_percent', 'Load (percent of capacity)'],
  'ups.realpower': ['nut_ups_realpower_watts', 'Real power (W)'],
  'ups.power': ['nut_ups_power_voltamperes', 'Apparent power (VA)'],
  'ups.temperature': ['nut_ups_temperature_celsius', 'UPS temperature (°C)'],
};

const STATUS_FLAGS: Record<string, string> = {
  OL: 'online',
  OB: 'on_battery',
  LB: 'low_battery',
  RB: 'replace_battery',
};

export interface MetricsSources {
  bus: EventBus;
  snapshots: () => UpsSnapshot[];
  upsdAnswering: () => boolean;
  mqttConnected: () => boolean;
  /** Each UPS's fault episodes in the last 24 h (the tuning hints' counter). */
  episodes?: (ups: string) => EpisodeCounts;
}

/** Prometheus metrics: gauges read from the supervisor's snapshots at scrape time, counters fed by the bus. */
export class Metrics implements Extension {
  readonly name = 'metrics';
  readonly registry = new Registry();
  private readonly sources: MetricsSources;
  private readonly counters: ReturnType<typeof busCounters>;

  constructor(sources: MetricsSources) {
    this.sources = sources;
    nutGauges(this.registry, sources);
    agentGauges(this.registry, sources);
    this.counters = busCounters(this.registry);
  }

  /** Counts restarts and recoveries from now on. */
  async start(): Promise<void> {
    const { bus } = this.sources;
    const { restarts, recoveries, upsdRestarts, spinning, usbResets, hints } = this.counters;
    bus.on('recovering', (e) => restarts.inc({ ups: e.ups, reason: e.reason }), this);
    bus.on('recovered', (e) => recoveries.observe({ reason: e.reason }, e.durationMs / 1000), this);
    bus.on('upsd-restarted', () => upsdRestarts.inc(), this);
    bus.on('driver-spinning', (e) => spinning.inc({ ups: e.ups }), this);
    bus.on('usb-reset', (e) => usbResets.inc({ ups: e.ups, result: e.result }), this);
    bus.on('tuning-hint', (e) => hints.inc({ ups: e.ups, hint: e.hint }), this);
  }

  async stop(): Promise<void> {
    this.sources.bus.removeOwner(this);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** The NUT variables of every UPS, and its ups.status flags. */
function nutGauges(registry: Registry, sources: MetricsSources): void {
  for (const [variable, [name, help]] of Object.entries(NUT_GAUGES)) {
    new Gauge({
      name,
      help,
      labelNames: ['ups'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of sources.snapshots()) {
          const raw = s.vars[variable];
          const value = raw === undefined ? null : parseMeasurement(variable, raw);
          if (value !== null) this.set({ ups: s.name }, value);
        }
      },
    });
  }
  new Gauge({
    name: 'nut_ups_status',
    help: 'ups.status flags: 1 when set (online, on_battery, low_battery, replace_battery)',
    labelNames: ['ups', 'flag'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of sources.snapshots()) {
        const flags = statusFlags(s.vars['ups.status']);
        for (const [flag, label] of Object.entries(STATUS_FLAGS))
          this.set({ ups: s.name, flag: label }, flags.has(flag) ? 1 : 0);
      }
    },
  });
}

/** The agent's own view: supervision state and data age per UPS, upsd answering, MQTT connected. */
function agentGauges(registry: Registry, sources: MetricsSources): void {
  new Gauge({
    name: 'nut_mqtt_supervisor_state',
    help: 'Supervision state of each UPS: 1 for the current state',
    labelNames: ['ups', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of sources.snapshots()) {
        for (const state of SUPERVISION_STATES)
          this.set({ ups: s.name, state }, s.supervisor.state === state ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'nut_mqtt_data_age_seconds',
    help: 'Seconds since the last fresh data of each UPS',
    labelNames: ['ups'],
    registers: [registry],
    collect() {
      this.reset();
      const now = Date.now();
      for (const s of sources.snapshots()) {
        if (s.supervisor.lastFreshAt) this.set({ ups: s.name }, (now - s.supervisor.lastFreshAt) / 1000);
      }
    },
  });
  const flag = (name: string, help: string, value: () => boolean) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(value() ? 1 : 0);
      },
    });
  const { episodes } = sources;
  if (episodes)
    new Gauge({
      name: 'nut_mqtt_episodes_24h',
      help: 'Fault episodes of each UPS in the last 24 h, by kind (stale, hang, spin); one fault counts once',
      labelNames: ['ups', 'kind'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of sources.snapshots()) {
          const counts = episodes(s.name);
          for (const kind of EPISODE_KINDS) this.set({ ups: s.name, kind }, counts[kind]);
        }
      },
    });
  flag('nut_mqtt_upsd_up', '1 while upsd answers', sources.upsdAnswering);
  flag('nut_mqtt_mqtt_connected', '1 while connected to the MQTT broker', sources.mqttConnected);
}

function busCounters(registry: Registry) {
  return {
    restarts: new Counter({
      name: 'nut_mqtt_driver_restarts_total',
      help: 'Driver restarts by reason',
      labelNames: ['ups', 'reason'],
      registers: [registry],
    }),
    recoveries: new Histogram({
      name: 'nut_mqtt_recovery_duration_seconds',
      help: 'Time from a fault to fresh data again',
      labelNames: ['reason'],
      buckets: [0.5, 1, 2, 3, 4, 5, 7.5, 10, 15, 30, 60, 120],
      registers: [registry],
    }),
    upsdRestarts: new Counter({
      name: 'nut_mqtt_upsd_restarts_total',
      help: 'upsd restarts',
      registers: [registry],
    }),
    spinning: new Counter({
      name: 'nut_mqtt_driver_spinning_total',
      help: 'Drivers found spinning (above SPIN_CPU_SHARE of a core for SPIN_DURATION), each then restarted',
      labelNames: ['ups'],
      registers: [registry],
    }),
    usbResets: new Counter({
      name: 'nut_mqtt_usb_resets_total',
      help: 'USB reset rung runs by result (reset, refused, failed)',
      labelNames: ['ups', 'result'],
      registers: [registry],
    }),
    hints: new Counter({
      name: 'nut_mqtt_tuning_hints_total',
      help: 'Tuning hints published (HINT_EPISODES_PER_DAY reached), by hint id',
      labelNames: ['ups', 'hint'],
      registers: [registry],
    }),
  };
}
