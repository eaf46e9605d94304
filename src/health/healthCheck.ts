import type { SupervisionState, UpsSnapshot } from '../supervisor/types.js';

export interface HealthReport {
  ok: boolean;
  upsd: 'up' | 'down';
  ups: Record<string, SupervisionState>;
  /** Why the agent is unhealthy; empty when ok. */
  reasons: string[];
}

/** States in which a UPS is served or being brought back within the agent's bounds. */
const HEALTHY: ReadonlySet<SupervisionState> = new Set(['starting', 'ok', 'suspect', 'recovering']);

/** Pure: healthy when upsd answers and every UPS is ok or recovering within bounds (not backing off or failed). */
export function evaluateHealth(upsdAnswering: boolean, snapshots: readonly UpsSnapshot[]): HealthReport {
  const reasons: string[] = [];
  if (!upsdAnswering) reasons.push('upsd does not answer');
  const ups: Record<string, SupervisionState> = {};
  for (const s of snapshots) {
    ups[s.name] = s.supervisor.state;
    if (!HEALTHY.has(s.supervisor.state)) reasons.push(`UPS ${s.name} is ${s.supervisor.state}`);
  }
  return { ok: reasons.length === 0, upsd: upsdAnswering ? 'up' : 'down', ups, reasons };
}
