import { describe, expect, it } from 'vitest';
import { checkBaseTopic, checkUpsName, topicsFor } from '../../src/api/topics.js';
import type { BusEvents } from '../../src/events.js';
import { sanitizeId } from '../../src/homeassistant/entity.js';
import { eventPayloads, statusEvents } from '../../src/mqtt/eventPayloads.js';
import {
  availabilityOf,
  bridgeInfo,
  REDACTED,
  redactSecrets,
  stateChangeKey,
  stateJson,
} from '../../src/mqtt/payloads.js';
import { statusLabel } from '../../src/nut/upsStatus.js';
import type { UpsSnapshot } from '../../src/supervisor/types.js';
import { cyberPowerDev } from '../fixtures/cyberPower.js';

const AT = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
const AT_ISO = '2026-01-02T03:04:05.678Z';

function cp1500(overrides: Partial<UpsSnapshot> = {}): UpsSnapshot {
  return {
    name: 'cp1500',
    description: 'CyberPower CP1500PFCLCD (static)',
    driver: 'usbhid-ups',
    vars: {
      ...cyberPowerDev(123),
      'driver.name': 'dummy-ups',
      'driver.parameter.pollinterval': '2',
      'driver.version': '2.8.0',
      'driver.version.internal': '0.15',
    },
    commands: ['load.off'],
    supervisor: { state: 'ok', restarts: 0, lastFreshAt: AT - 1500 },
    ...overrides,
  };
}

describe('topics', () => {
  const t = topicsFor('nut-mqtt');

  it('lays out every public topic under the base', () => {
    expect(t.bridgeState).toBe('nut-mqtt/bridge/state');
    expect(t.bridgeInfo).toBe('nut-mqtt/bridge/info');
    expect(t.bridgeEvent).toBe('nut-mqtt/bridge/event');
    expect(t.bridgeCommand).toBe('nut-mqtt/bridge/command');
    expect(t.bridgeCommandResponse).toBe('nut-mqtt/bridge/command/response');
    expect(t.upsState('ups1')).toBe('nut-mqtt/ups1');
    expect(t.upsAvailability('ups1')).toBe('nut-mqtt/ups1/availability');
    expect(t.upsEvent('ups1')).toBe('nut-mqtt/ups1/event');
    expect(t.upsCommand('ups1')).toBe('nut-mqtt/ups1/command');
    expect(t.upsCommandResponse('ups1')).toBe('nut-mqtt/ups1/command/response');
    expect(t.upsCommandFilter).toBe('nut-mqtt/+/command');
    expect(topicsFor('home/nut').upsState('ups1')).toBe('home/nut/ups1');
  });

  it('tells which command topic a message arrived on', () => {
    expect(t.parseCommandTopic('nut-mqtt/bridge/command')).toEqual({ kind: 'bridge' });
    expect(t.parseCommandTopic('nut-mqtt/ups1/command')).toEqual({ kind: 'ups', ups: 'ups1' });
    expect(t.parseCommandTopic('nut-mqtt/ups.1/command')).toEqual({ kind: 'ups', ups: 'ups.1' });
    expect(t.parseCommandTopic('nut-mqtt/ups1/command/response')).toBeUndefined();
    expect(t.parseCommandTopic('nut-mqtt/a/b/command')).toBeUndefined();
    expect(t.parseCommandTopic('nut-mqtt//command')).toBeUndefined();
    expect(t.parseCommandTopic('other/ups1/command')).toBeUndefined();
    expect(t.parseCommandTopic('nut-mqtt/ups1')).toBeUndefined();
  });

  it('refuses an invalid base topic with a configuration error', () => {
    for (const bad of ['', 'a/+/b', 'nut/#', '/nut', 'nut/', 'a//b', '$SYS/nut', 'nu\u0000t']) {
      expect(checkBaseTopic(bad).ok, JSON.stringify(bad)).toBe(false);
      expect(() => topicsFor(bad), JSON.stringify(bad)).toThrow(/invalid MQTT base topic/);
    }
    expect(checkBaseTopic('home/nut-mqtt_2').ok).toBe(true);
  });

  it('reports UPS names that cannot be a topic level, without throwing', () => {
    expect(checkUpsName('cp1500')).toEqual({ ok: true });
    expect(checkUpsName('ups.1')).toEqual({ ok: true });
    expect(checkUpsName('Büro UPS')).toEqual({ ok: true });
    const cases: Array<[string, string]> = [
      ['', 'empty-name'],
      ['ups+1', 'wildcard-char'],
      ['ups#', 'wildcard-char'],
      ['a/b', 'topic-separator'],
      ['ups\u0000', 'invalid-char'],
      ['ups\n1', 'invalid-char'],
      ['ups\u0085', 'invalid-char'],
      ['ups\ud800', 'invalid-char'],
      ['bridge', 'reserved-name'],
    ];
    for (const [name, error] of cases) {
      expect(checkUpsName(name), JSON.stringify(name)).toMatchObject({ ok: false, error });
    }
  });

  it('sanitizes ids to [a-zA-Z0-9_-] without collisions', () => {
    expect(sanitizeId('cp1500')).toBe('cp1500');
    expect(sanitizeId('server_room-2')).toBe('server_room-2');
    const dotted = sanitizeId('ups.1');
    const spaced = sanitizeId('ups 1');
    expect(dotted).toMatch(/^ups_1_[0-9a-f]{8}$/);
    expect(spaced).toMatch(/^ups_1_[0-9a-f]{8}$/);
    const ids = [sanitizeId('ups_1'), dotted, spaced, sanitizeId('ups/1'), sanitizeId('Büro')];
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-zA-Z0-9_-]+$/);
    expect(sanitizeId('ups.1')).toBe(dotted); // stable across calls (and restarts)
  });
});

describe('stateChangeKey', () => {
  const withDriverState = (value: string, lastFreshAt = AT) =>
    stateJson(
      cp1500({
        vars: { 'ups.status': 'OL', 'driver.state': value },
        supervisor: { state: 'ok', restarts: 0, lastFreshAt },
      }),
      AT,
    );

  it('ignores the clock and the routine driver.state cycle of NUT 2.8.1+ (updateinfo ↔ quiet)', () => {
    const quiet = stateChangeKey(withDriverState('quiet'));
    expect(stateChangeKey(withDriverState('updateinfo'))).toBe(quiet);
    expect(stateChangeKey(withDriverState('quiet', AT - 30_000))).toBe(quiet);
  });

  it('still sees a driver.state that is news, and any other change', () => {
    const quiet = stateChangeKey(withDriverState('quiet'));
    expect(stateChangeKey(withDriverState('reconnect.trying'))).not.toBe(quiet);
    const onBattery = stateJson(
      cp1500({
        vars: { 'ups.status': 'OB', 'driver.state': 'quiet' },
        supervisor: { state: 'ok', restarts: 0 },
      }),
      AT,
    );
    expect(stateChangeKey(onBattery)).not.toBe(quiet);
  });
});

describe('stateJson', () => {
  it('publishes a CyberPower CP1500PFCLCD field by field', () => {
    const state = stateJson(cp1500({ supervisor: { state: 'ok', restarts: 0, lastFreshAt: AT - 1500 } }), AT);
    expect(state['battery.charge']).toBe(100);
    expect(state['battery.charge.low']).toBe(10);
    expect(state['battery.runtime']).toBe(2370);
    expect(state['battery.voltage']).toBe(24);
    expect(state['battery.type']).toBe('PbAcid');
    expect(state['battery.mfr.date']).toBe('CPS');
    expect(state['device.mfr']).toBe('CPS');
    expect(state['device.model']).toBe('CP1500PFCLCD');
    expect(state['device.serial']).toBe('CTHGN000123');
    expect(state['input.voltage']).toBe(121);
    expect(state['input.voltage.nominal']).toBe(120);
    expect(state['output.voltage']).toBe(121);
    expect(state['ups.load']).toBe(18);
    expect(state['ups.realpower.nominal']).toBe(900);
    expect(state['ups.productid']).toBe('0501');
    expect(state['ups.vendorid']).toBe('0764');
    expect(state['ups.status']).toBe('OL');
    expect(state['ups.timer.shutdown']).toBe(-60);
    expect(state['ups.beeper.status']).toBe('enabled');
    expect(state['ups.test.result']).toBe('No test initiated');
    expect(state['driver.version']).toBe('2.8.0');
    expect(state['driver.version.internal']).toBe('0.15');
    expect(state['driver.parameter.pollinterval']).toBe(2);
    expect(state.status_label).toBe('Online');
    expect(state.supervisor).toEqual({
      state: 'ok',
      restarts: 0,
      last_restart_at: null,
      last_restart_reason: null,
      seconds_since_fresh: 1,
      usb_problem: null,
    });
    // 32 NUT variables from the .dev, 4 from the driver, then the agent's two keys.
    expect(Object.keys(state)).toHaveLength(32 + 4 + 2);
    const keys = Object.keys(state);
    expect(keys.slice(0, -2)).toEqual([...keys.slice(0, -2)].sort());
    expect(keys.slice(-2)).toEqual(['status_label', 'supervisor']);
  });

  it('serializes ids as strings and quantities as numbers', () => {
    const text = JSON.stringify(stateJson(cp1500(), AT));
    expect(text).toContain('"battery.charge":100,');
    expect(text).toContain('"ups.productid":"0501"');
    expect(text).toContain('"ups.vendorid":"0764"');
    expect(text).toContain('"battery.voltage":24,');
  });

  it('reports the supervisor view after restarts, with times normalized to ISO UTC', () => {
    const snapshot = cp1500({
      vars: { 'ups.status': 'OB DISCHRG LB' },
      supervisor: {
        state: 'recovering',
        restarts: 3,
        lastRestartAt: '2026-01-02T04:04:05+01:00',
        lastRestartReason: 'hung',
        lastFreshAt: AT - 61_999,
        childPid: 4242,
      },
    });
    expect(stateJson(snapshot, AT)).toEqual({
      'ups.status': 'OB DISCHRG LB',
      status_label: 'On battery, low battery',
      supervisor: {
        state: 'recovering',
        restarts: 3,
        last_restart_at: '2026-01-02T03:04:05.000Z',
        last_restart_reason: 'hung',
        seconds_since_fresh: 61,
        usb_problem: null,
      },
    });
  });

  it('adds the 24 h episode counts to the supervisor view when the counter is wired, and counts as change', () => {
    const snapshot = cp1500({ vars: { 'ups.status': 'OL' } });
    const before = stateJson(snapshot, AT, undefined, { stale: 0, hang: 1, spin: 0 });
    expect(before.supervisor.episodes_24h).toEqual({ stale: 0, hang: 1, spin: 0 });
    const after = stateJson(snapshot, AT, undefined, { stale: 0, hang: 2, spin: 0 });
    expect(stateChangeKey(after)).not.toBe(stateChangeKey(before));
    expect(stateJson(snapshot, AT).supervisor).not.toHaveProperty('episodes_24h');
  });

  it('copes with no data at all, a bad restart time and a clock that went back', () => {
    const snapshot = cp1500({
      vars: {},
      supervisor: { state: 'starting', restarts: 0, lastRestartAt: 'not a date', lastFreshAt: AT + 5000 },
    });
    expect(stateJson(snapshot, AT)).toEqual({
      status_label: 'Waiting for data',
      supervisor: {
        state: 'starting',
        restarts: 0,
        last_restart_at: null,
        last_restart_reason: null,
        seconds_since_fresh: 0,
        usb_problem: null,
      },
    });
  });

  it('never lets a malformed variable name replace the agent keys', () => {
    const state = stateJson(cp1500({ vars: { supervisor: 'x', status_label: 'y', 'ups.status': 'OL' } }), AT);
    expect(state.status_label).toBe('Online');
    expect(state.supervisor).toMatchObject({ state: 'ok' });
  });
});

describe('availabilityOf', () => {
  it('is online only while the supervisor has fresh data', () => {
    expect(availabilityOf(cp1500())).toBe('online');
    for (const state of ['starting', 'suspect', 'recovering', 'backoff', 'failed', 'stopped'] as const) {
      expect(availabilityOf(cp1500({ supervisor: { state, restarts: 1 } })), state).toBe('offline');
    }
  });
});

describe('statusLabel', () => {
  it('reads the common statuses', () => {
    expect(statusLabel('OL')).toBe('Online');
    expect(statusLabel('OB')).toBe('On battery');
    expect(statusLabel('OB DISCHRG')).toBe('On battery');
    expect(statusLabel('OL CHRG')).toBe('Online, charging');
    expect(statusLabel('OB DISCHRG LB')).toBe('On battery, low battery');
    expect(statusLabel('LB')).toBe('Low battery');
    expect(statusLabel('RB')).toBe('Replace battery');
    expect(statusLabel('OL RB')).toBe('Online, replace battery');
    expect(statusLabel('OL OVER')).toBe('Online, overload');
    expect(statusLabel('OL DISCHRG CAL')).toBe('Online, calibrating, discharging');
    expect(statusLabel('OL BOOST')).toBe('Online, boosting voltage');
    expect(statusLabel('OL TRIM')).toBe('Online, trimming voltage');
    expect(statusLabel('BYPASS')).toBe('On bypass');
    expect(statusLabel('OFF')).toBe('Off');
    expect(statusLabel('FSD OB LB')).toBe('On battery, forced shutdown, low battery');
  });

  it('ignores flag order and extra blanks', () => {
    expect(statusLabel('CHRG  OL ')).toBe('Online, charging');
  });

  it('waits for data on WAIT, empty or missing status, and shows unknown flags as they are', () => {
    expect(statusLabel('WAIT')).toBe('Waiting for data');
    expect(statusLabel('')).toBe('Waiting for data');
    expect(statusLabel(undefined)).toBe('Waiting for data');
    expect(statusLabel('ECO')).toBe('ECO');
    expect(statusLabel('OL ECO')).toBe('Online');
  });
});

describe('statusEvents', () => {
  it('reports mains loss, low battery and mains return (the .seq cycle)', () => {
    expect(statusEvents('OL', 'OB DISCHRG')).toEqual(['on-battery', 'status-changed']);
    expect(statusEvents('OB DISCHRG', 'OB DISCHRG LB')).toEqual(['low-battery', 'status-changed']);
    expect(statusEvents('OB DISCHRG LB', 'OL')).toEqual(['on-line', 'battery-ok', 'status-changed']);
    expect(statusEvents('OL', 'OB DISCHRG LB')).toEqual(['on-battery', 'low-battery', 'status-changed']);
  });

  it('reports battery replacement, overload and forced shutdown', () => {
    expect(statusEvents('OL', 'OL RB')).toEqual(['replace-battery', 'status-changed']);
    expect(statusEvents('OL', 'OL OVER')).toEqual(['overload', 'status-changed']);
    expect(statusEvents('OB LB', 'OB LB FSD')).toEqual(['forced-shutdown', 'status-changed']);
    expect(statusEvents('OL RB', 'OL')).toEqual(['status-changed']);
  });

  it('only reports status-changed for minor changes and the first status', () => {
    expect(statusEvents('OL', 'OL CHRG')).toEqual(['status-changed']);
    expect(statusEvents(undefined, 'OB DISCHRG')).toEqual(['status-changed']);
    expect(statusEvents(undefined, 'OL')).toEqual(['status-changed']);
    expect(statusEvents('WAIT', 'OL')).toEqual(['status-changed']);
  });

  it('reports nothing when the flags did not change', () => {
    expect(statusEvents('OL', 'OL')).toEqual([]);
    expect(statusEvents('OL CHRG', 'CHRG  OL')).toEqual([]);
  });
});

describe('eventPayloads', () => {
  it('maps recovered to the documented JSON', () => {
    const events = eventPayloads('recovered', {
      ups: 'ups1',
      reason: 'hung',
      durationMs: 3120,
      sinceFreshMs: 5200,
      attempt: 1,
      at: AT,
    });
    expect(JSON.stringify(events)).toBe(
      `[{"type":"recovered","ups":"ups1","reason":"hung","duration_ms":3120,"since_fresh_ms":5200,"attempt":1,"at":"${AT_ISO}"}]`,
    );
    // No fresh data before the fault since the agent started: null, not a made-up number.
    const none = eventPayloads('recovered', {
      ups: 'u',
      reason: 'no-data',
      durationMs: 1,
      sinceFreshMs: null,
      attempt: 1,
      at: AT,
    });
    expect(none[0]).toMatchObject({ since_fresh_ms: null });
  });

  it('maps every supervisor event with snake_case keys', () => {
    const cases: { [K in keyof BusEvents]?: [BusEvents[K], Record<string, unknown>] } = {
      'state-changed': [
        { ups: 'u', from: 'ok', to: 'suspect', at: AT },
        { from: 'ok', to: 'suspect' },
      ],
      ready: [{ ups: 'u', startupMs: 812, at: AT }, { startup_ms: 812 }],
      stale: [{ ups: 'u', source: 'upsd', at: AT }, { source: 'upsd' }],
      'stale-cleared': [{ ups: 'u', at: AT }, {}],
      hung: [
        { ups: 'u', silentMs: 15000, timeoutMs: 1300, at: AT },
        { silent_ms: 15000, timeout_ms: 1300 },
      ],
      'driver-exited': [
        { ups: 'u', childPid: 77, code: null, signal: 'SIGKILL', expected: false, at: AT },
        { child_pid: 77, code: null, signal: 'SIGKILL', expected: false },
      ],
      'driver-started': [{ ups: 'u', childPid: 78, at: AT }, { child_pid: 78 }],
      'driver-spinning': [
        { ups: 'u', childPid: 78, cpuShare: 0.49876, durationMs: 61_000, at: AT },
        { child_pid: 78, cpu_share: 0.499, duration_ms: 61_000 },
      ],
      'usb-reset': [
        { ups: 'u', result: 'refused', device: null, detail: 'no USB device matches vendorid=0764', at: AT },
        { result: 'refused', device: null, detail: 'no USB device matches vendorid=0764' },
      ],
      'tuning-hint': [
        {
          ups: 'u',
          hint: 'generic-hang',
          kind: 'hang',
          count24h: 12,
          threshold: 12,
          text: '12 hung-driver episodes in 24 h on u (dummy-ups): …',
          options: ['pollinterval = 5'],
          at: AT,
        },
        {
          hint: 'generic-hang',
          kind: 'hang',
          count_24h: 12,
          threshold: 12,
          text: '12 hung-driver episodes in 24 h on u (dummy-ups): …',
          options: ['pollinterval = 5'],
        },
      ],
      recovering: [
        { ups: 'u', reason: 'stale', attempt: 2, at: AT },
        { reason: 'stale', attempt: 2 },
      ],
      'force-killed': [{ ups: 'u', childPid: 77, at: AT }, { child_pid: 77 }],
      'recovery-failed': [
        {
          ups: 'u',
          reason: 'crashed',
          error: 'no fresh data',
          attempt: 3,
          retryInMs: 8000,
          circuitOpen: true,
          circuitReason: 'failures',
          at: AT,
        },
        {
          reason: 'crashed',
          error: 'no fresh data',
          attempt: 3,
          retry_in_ms: 8000,
          circuit_open: true,
          circuit_reason: 'failures',
        },
      ],
    };
    for (const [name, entry] of Object.entries(cases)) {
      const [payload, fields] = entry as [BusEvents['ready'], Record<string, unknown>];
      expect(eventPayloads(name as 'ready', payload), name).toEqual([
        { type: name, ups: 'u', ...fields, at: AT_ISO },
      ]);
    }
  });

  it('maps upsd events without a ups field (they go to bridge/event)', () => {
    expect(eventPayloads('upsd-started', { childPid: 10, at: AT })).toEqual([
      { type: 'upsd-started', child_pid: 10, at: AT_ISO },
    ]);
    expect(
      eventPayloads('upsd-exited', { childPid: 10, code: 1, signal: null, expected: false, at: AT }),
    ).toEqual([{ type: 'upsd-exited', child_pid: 10, code: 1, signal: null, expected: false, at: AT_ISO }]);
    expect(eventPayloads('upsd-restarted', { reason: 'manual', durationMs: 900, at: AT })).toEqual([
      { type: 'upsd-restarted', reason: 'manual', duration_ms: 900, at: AT_ISO },
    ]);
    expect(eventPayloads('upsd-unresponsive', { error: 'ECONNREFUSED', at: AT })).toEqual([
      { type: 'upsd-unresponsive', error: 'ECONNREFUSED', at: AT_ISO },
    ]);
  });

  it('turns one status change into its derived events plus status-changed', () => {
    expect(
      eventPayloads('status-changed', {
        ups: 'cp1500',
        from: 'OL',
        to: 'OB DISCHRG LB',
        source: 'driver',
        at: AT,
      }),
    ).toEqual([
      {
        type: 'on-battery',
        ups: 'cp1500',
        status: 'OB DISCHRG LB',
        label: 'On battery, low battery',
        at: AT_ISO,
      },
      {
        type: 'low-battery',
        ups: 'cp1500',
        status: 'OB DISCHRG LB',
        label: 'On battery, low battery',
        at: AT_ISO,
      },
      {
        type: 'status-changed',
        ups: 'cp1500',
        from: 'OL',
        to: 'OB DISCHRG LB',
        label: 'On battery, low battery',
        source: 'driver',
        at: AT_ISO,
      },
    ]);
    expect(
      eventPayloads('status-changed', { ups: 'u', from: undefined, to: 'OL', source: 'upsd', at: AT }),
    ).toEqual([
      { type: 'status-changed', ups: 'u', from: null, to: 'OL', label: 'Online', source: 'upsd', at: AT_ISO },
    ]);
    expect(
      eventPayloads('status-changed', { ups: 'u', from: 'OL', to: 'OL', source: 'upsd', at: AT }),
    ).toEqual([]);
  });

  it('publishes nothing for ups-updated, and survives an invalid time', () => {
    expect(eventPayloads('ups-updated', { snapshot: cp1500(), at: AT })).toEqual([]);
    expect(eventPayloads('stale-cleared', { ups: 'u', at: Number.NaN })).toEqual([
      { type: 'stale-cleared', ups: 'u', at: null },
    ]);
  });
});

describe('bridgeInfo', () => {
  it('summarizes the agent without secrets', () => {
    const info = bridgeInfo({
      agentVersion: '0.1.0',
      nutVersion: '2.8.0',
      upsd: { host: '127.0.0.1', port: 3493 },
      upsNames: ['cp1500', 'cpseq'],
      config: {
        mqtt: {
          url: 'mqtts://user:s3cret@broker.lan:8883',
          username: 'nut',
          password: 's3cret',
          baseTopic: 'nut-mqtt',
        },
        nut: {
          confPath: '/etc/nut',
          adminPassword: 'x',
          apiToken: 'y',
          tls: { privateKeyPath: '/k', ca: '/ca.pem' },
        },
        instcmds: ['beeper.disable'],
        empty: { password: '' },
      },
    });
    expect(info).toEqual({
      version: '0.1.0',
      nut_version: '2.8.0',
      upsd: '127.0.0.1:3493',
      ups: ['cp1500', 'cpseq'],
      config: {
        mqtt: {
          url: `mqtts://${REDACTED}@broker.lan:8883`,
          username: 'nut',
          password: REDACTED,
          baseTopic: 'nut-mqtt',
        },
        nut: {
          confPath: '/etc/nut',
          adminPassword: REDACTED,
          apiToken: REDACTED,
          tls: { privateKeyPath: REDACTED, ca: '/ca.pem' },
        },
        instcmds: ['beeper.disable'],
        empty: { password: '' },
      },
    });
    expect(JSON.stringify(info)).not.toContain('s3cret');
  });

  it('handles IPv6, an unknown NUT version and no config', () => {
    expect(bridgeInfo({ agentVersion: '1', upsd: { host: '::1', port: 3493 }, upsNames: [] })).toEqual({
      version: '1',
      nut_version: null,
      upsd: '[::1]:3493',
      ups: [],
      config: {},
    });
  });

  it('redacts without mutating the input and survives cycles', () => {
    const config: Record<string, unknown> = { password: 'p', shared: { a: 1 } };
    config.self = config;
    config.again = config.shared;
    const copy = redactSecrets(config) as Record<string, unknown>;
    expect(copy.password).toBe(REDACTED);
    expect(copy.self).toBe('[circular]');
    expect(copy.again).toEqual({ a: 1 });
    expect(config.password).toBe('p');
  });
});
