// The six faults of the soak and how each is injected from outside the agent, as an operator (or bad luck) would:
// signals to pids found in /proc, the Q1 simulator going silent, a broker restart, a command over MQTT.
import { nutPids, signalLabPid } from '../../test/fixtures/labProcs.js';
import type { Broker } from '../../test/fixtures/mosquitto.js';
import type { Observer } from '../../test/fixtures/mqttObserver.js';
import { processAlive, sleep } from '../../test/fixtures/proc.js';
import type { Q1Simulator } from '../../test/fixtures/q1Simulator.js';

export const FAULT_KINDS = ['hang', 'crash', 'stale', 'upsd-kill', 'broker-restart', 'restart-cmd'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const KIND_LABEL: Record<FaultKind, string> = {
  hang: 'driver hang (SIGSTOP)',
  crash: 'driver crash (SIGKILL)',
  stale: 'stale while alive (Q1 mute)',
  'upsd-kill': 'upsd SIGKILL',
  'broker-restart': 'broker restart',
  'restart-cmd': 'restart command (MQTT)',
};

/** The `reason` of the agent's `recovered` event each fault should produce (none for a broker restart). */
export const EXPECTED_REASON: Record<FaultKind, string | undefined> = {
  hang: 'hung',
  crash: 'crashed',
  stale: 'stale',
  'upsd-kill': 'upsd-restarted',
  'broker-restart': undefined,
  'restart-cmd': 'manual',
};

export interface FaultContext {
  confPath: string;
  agentPid: number;
  base: string;
  allUpses: readonly string[];
  broker: Broker;
  /** The outside MQTT client, subscribed to `<base>/#`. */
  obs: Observer;
  sim?: Q1Simulator;
  /** The blazer_ser UPS on the simulator. */
  q1Ups?: string;
  /** The stale fault's own watcher gives up after this long. */
  capMs: number;
}

export interface ActiveFault {
  kind: FaultKind;
  /** The faulted UPS; undefined for upsd and the broker, which concern every UPS. */
  ups?: string;
  /** What was hit, for the log: a pid, a transaction id. */
  detail: string;
  injectedAt: number;
  /** UPSes that must show fresh data again. */
  mustRecover: readonly string[];
  /** Whose driver may be restarted because of this fault. */
  mayRestart: 'target' | 'all' | 'none';
  /**
   * From when an `online` counts (undefined: not yet). `afterOffline`: only an `online` that follows an `offline`,
   * i.e. the agent noticed the fault and then had fresh data again.
   */
  onlineSince(): number | undefined;
  afterOffline: boolean;
  /** Extra condition (the restart command's response): done, or failed for good with an error. */
  check?(): { done: boolean; error?: string };
  /** Undoes what is left of the fault when it was not recovered in time (SIGCONT, unmute). */
  abandon(): void;
}

/** The one driver pid of `ups` right now (a fault needs a definite target). */
function driverPid(ctx: FaultContext, ups: string): number {
  const pids = nutPids(ctx.confPath, [ctx.agentPid]).drivers.get(ups) ?? [];
  if (pids.length !== 1) throw new Error(`expected one driver process for ${ups}, found ${pids.length}`);
  return pids[0] as number;
}

function upsdPid(ctx: FaultContext): number {
  const pids = nutPids(ctx.confPath, [ctx.agentPid]).upsd;
  if (pids.length !== 1) throw new Error(`expected one upsd process, found ${pids.length}`);
  return pids[0] as number;
}

function signalOrThrow(ctx: FaultContext, pid: number, signal: NodeJS.Signals, what: string): void {
  if (!signalLabPid(pid, ctx.confPath, signal))
    throw new Error(`could not send ${signal} to ${what} (pid ${pid})`);
}

/** Injects one fault and returns at once (a broker restart returns once the broker is back). */
export async function inject(
  kind: FaultKind,
  ups: string | undefined,
  ctx: FaultContext,
  transaction: string,
): Promise<ActiveFault> {
  const need = (): string => {
    if (ups === undefined) throw new Error(`${kind} needs a UPS`);
    return ups;
  };
  switch (kind) {
    case 'hang': {
      const target = need();
      const pid = driverPid(ctx, target);
      const injectedAt = Date.now();
      signalOrThrow(ctx, pid, 'SIGSTOP', `the driver of ${target}`);
      return {
        ...driverFault(kind, target, injectedAt, `pid ${pid}`),
        abandon: () => void signalLabPid(pid, ctx.confPath, 'SIGCONT'),
      };
    }
    case 'crash': {
      const target = need();
      const pid = driverPid(ctx, target);
      const injectedAt = Date.now();
      signalOrThrow(ctx, pid, 'SIGKILL', `the driver of ${target}`);
      return { ...driverFault(kind, target, injectedAt, `pid ${pid}`), abandon: () => undefined };
    }
    case 'stale': {
      const { sim } = ctx;
      const target = need();
      if (!sim || target !== ctx.q1Ups) throw new Error('the stale fault needs the Q1 simulator UPS');
      const pid = driverPid(ctx, target);
      const injectedAt = Date.now();
      sim.setMuted(true);
      // "A glitch a restart fixes": the UPS answers again as soon as the driver that saw it go silent is gone.
      let abandoned = false;
      void (async () => {
        const deadline = injectedAt + ctx.capMs;
        while (!abandoned && processAlive(pid) && Date.now() < deadline) await sleep(20);
        sim.setMuted(false);
      })();
      return {
        ...driverFault(kind, target, injectedAt, `pid ${pid}`),
        abandon: () => {
          abandoned = true;
          sim.setMuted(false);
        },
      };
    }
    case 'upsd-kill': {
      const pid = upsdPid(ctx);
      const injectedAt = Date.now();
      signalOrThrow(ctx, pid, 'SIGKILL', 'upsd');
      return {
        kind,
        detail: `upsd pid ${pid}`,
        injectedAt,
        mustRecover: ctx.allUpses,
        // NUT 2.8.0 drivers spin on upsd's dead connection: the agent restarts every driver after upsd, by design.
        mayRestart: 'all',
        onlineSince: () => injectedAt,
        afterOffline: true,
        abandon: () => undefined,
      };
    }
    case 'broker-restart': {
      const injectedAt = Date.now();
      const oldPid = ctx.broker.pid;
      await ctx.broker.restart();
      return {
        kind,
        detail: `broker pid ${oldPid} → ${ctx.broker.pid}`,
        injectedAt,
        mustRecover: ctx.allUpses,
        mayRestart: 'none',
        // The broker keeps nothing (persistence off): what this client receives after it reconnected is what the
        // agent published again.
        onlineSince: () => ctx.obs.reconnectedAt(injectedAt),
        afterOffline: false,
        abandon: () => undefined,
      };
    }
    case 'restart-cmd': {
      const target = need();
      const injectedAt = Date.now();
      await ctx.obs.publish(
        `${ctx.base}/${target}/command`,
        JSON.stringify({ command: 'restart', transaction }),
        { qos: 1, retain: false },
      );
      return {
        ...driverFault(kind, target, injectedAt, `transaction ${transaction}`),
        check: () => {
          const r = commandResponse(ctx.obs, ctx.base, target, transaction)?.json;
          if (!r) return { done: false };
          if (r.status === 'ok') return { done: true };
          return { done: false, error: `response ${JSON.stringify(r)}` };
        },
        abandon: () => undefined,
      };
    }
  }
}

function driverFault(
  kind: FaultKind,
  ups: string,
  injectedAt: number,
  detail: string,
): Omit<ActiveFault, 'abandon'> {
  return {
    kind,
    ups,
    detail,
    injectedAt,
    mustRecover: [ups],
    mayRestart: 'target',
    onlineSince: () => injectedAt,
    afterOffline: true,
  };
}

/** A JSON object payload, or undefined. */
export function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The agent's answer to the command with this transaction id, and when it arrived. */
export function commandResponse(
  obs: Observer,
  base: string,
  ups: string,
  transaction: string,
): { t: number; json: Record<string, unknown> } | undefined {
  for (const m of obs.on(`${base}/${ups}/command/response`)) {
    const json = jsonObject(m.text);
    if (json && String(json.transaction) === transaction) return { t: m.t, json };
  }
  return undefined;
}
