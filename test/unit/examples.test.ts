import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { topicsFor } from '../../src/api/topics.js';
import { eventPayloads } from '../../src/mqtt/eventPayloads.js';

interface FlowNode {
  id: string;
  type: string;
  z?: string;
  topic?: string;
  broker?: string;
  payload?: string;
  wires?: string[][];
  rules?: Array<{ v: string }>;
  func?: string;
}

const flow = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../examples/node-red-flow.json'), 'utf8'),
) as FlowNode[];
const byId = new Map(flow.map((n) => [n.id, n]));
const topics = topicsFor('nut');

/** MQTT topic filter match (+ and #). */
function matches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

describe('examples/node-red-flow.json', () => {
  it('is an importable flow: unique ids, every wire and reference points at a node of the flow', () => {
    expect(byId.size).toBe(flow.length);
    for (const node of flow) {
      for (const target of (node.wires ?? []).flat())
        expect(byId.has(target), `${node.id} → ${target}`).toBe(true);
      if (node.z) expect(byId.get(node.z)?.type).toBe('tab');
      if (node.broker && node.type !== 'mqtt-broker') expect(byId.get(node.broker)?.type).toBe('mqtt-broker');
    }
  });

  it("listens to the agent's real topics and sends a command it accepts", () => {
    const inputs = flow.filter((n) => n.type === 'mqtt in').map((n) => n.topic as string);
    expect(inputs.some((f) => matches(f, topics.upsEvent('ups')))).toBe(true);
    expect(inputs.some((f) => matches(f, topics.upsCommandResponse('ups')))).toBe(true);
    const out = flow.find((n) => n.type === 'mqtt out');
    expect(out?.topic).toBe(topics.upsCommand('ups'));
    const inject = flow.find((n) => n.type === 'inject');
    expect(JSON.parse(inject?.payload ?? '{}')).toEqual({ command: 'restart', transaction: 'node-red' });
  });

  it('alerts on the event types the agent publishes', () => {
    const rules = flow.find((n) => n.type === 'switch')?.rules?.map((r) => r.v);
    expect(rules).toEqual(['on-battery', 'low-battery', 'on-line', 'outage']);
  });

  it('notifies once per outage from the `outage` event as the agent publishes it', () => {
    const node = byId.get('nutmqtt_outage');
    const switchNode = flow.find((n) => n.type === 'switch');
    expect(switchNode?.wires?.[3]).toEqual(['nutmqtt_outage']);
    // Node-RED runs a function node's body with `msg` in scope: so does this.
    const format = new Function('msg', node?.func ?? '') as (msg: { payload: unknown }) => {
      topic: string;
      payload: string;
    };
    const start = Date.UTC(2026, 11, 4, 17, 41, 58);
    const outage = (fields: Partial<Parameters<typeof eventPayloads<'outage'>>[1]>) =>
      eventPayloads('outage', {
        ups: 'ups',
        outages: 1,
        start,
        startSeen: true,
        end: start + 372_000,
        onBatteryMs: 372_000,
        wh: 12.34,
        complete: true,
        count24h: 2,
        onBattery24hMs: 400_000,
        at: start + 372_000,
        ...fields,
      })[0];
    expect(format({ payload: outage({}) })).toEqual({
      topic: 'UPS ups',
      payload: 'ups: power was out for 6 min, 12.3 Wh from the battery; 2 outage(s) in 24 h',
    });
    expect(format({ payload: outage({ outages: 14, onBatteryMs: 31_000, wh: null }) }).payload).toBe(
      'ups: 14 short outages (the input flaps), 31 s on battery in all',
    );
    expect(format({ payload: outage({ end: null, complete: false }) }).payload).toBe(
      'ups: an outage ended while nut-mqtt was not watching (on battery since 2026-12-04T17:41:58.000Z)',
    );
  });
});
