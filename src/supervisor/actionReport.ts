import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import { circuitWords } from './recoveryPolicy.js';
import type { MachineAction } from './upsStateMachine.js';

/** What a UPS supervisor reports for one of its state machine's actions. */
export interface ActionReportContext {
  ups: string;
  bus: EventBus;
  log: Logger;
  at: number;
  /** When the data was last fresh before the fault now recovered (undefined: never). */
  freshBeforeFault: number | undefined;
}

/**
 * The log line and the bus event of a machine action that only reports (ready, stale-cleared, recovered,
 * recovery-failed); `recover` is the supervisor's own to perform. One place, so each outcome is logged once.
 */
export function reportAction(action: MachineAction, ctx: ActionReportContext): void {
  const { ups, bus, log, at } = ctx;
  switch (action.type) {
    case 'ready':
      log.info(
        { startupMs: action.startupMs },
        `first fresh data ${action.startupMs} ms after the driver started`,
      );
      bus.emit('ready', { ups, startupMs: action.startupMs, at });
      break;
    case 'stale-cleared':
      log.info('data fresh again without a restart');
      bus.emit('stale-cleared', { ups, at });
      break;
    case 'recovered': {
      const { reason, durationMs, attempt } = action;
      const sinceFreshMs = ctx.freshBeforeFault === undefined ? null : at - ctx.freshBeforeFault;
      log.info(
        { reason, durationMs, sinceFreshMs, attempt },
        `recovered from ${reason} in ${durationMs} ms (${sinceFreshMs ?? '?'} ms since the last fresh data)`,
      );
      bus.emit('recovered', { ups, reason, durationMs, sinceFreshMs, attempt, at });
      break;
    }
    case 'recovery-failed': {
      const { reason, attempt, retryInMs, circuitOpen, circuitReason } = action;
      log.error(
        { reason, attempt, retryInMs, circuitOpen, circuitReason },
        `recovery failed (${action.error}); ${circuitWords(circuitReason)}next attempt in ${Math.round(retryInMs / 1000)} s`,
      );
      bus.emit('recovery-failed', { ups, ...action, at });
      break;
    }
    case 'recover':
      break;
  }
}
