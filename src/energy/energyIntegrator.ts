/**
 * The energy total of one UPS, integrated from power samples. Pure: a total and a sample in, the next total out.
 *
 * Trapezoid over the actual sample times. Nothing is invented: a sample while the data is not fresh (`undefined`)
 * breaks the chain, a gap longer than `maxGapMs` (the agent was down, the loop stalled) adds nothing, and a clock
 * that steps backwards adds nothing; each such sample just starts a new chain. The total never decreases.
 */
export interface PowerSample {
  /** Epoch ms of the reading. */
  at: number;
  watts: number;
}

export interface EnergyTotal {
  kwh: number;
  /** The sample the next one is integrated from; absent after a break. */
  last?: PowerSample;
}

/** How many poll intervals a gap between two samples may span and still count. */
export const MAX_GAP_POLL_INTERVALS = 5;

/** The longest gap between two samples that is integrated, for a poll interval (POLL_INTERVAL). */
export function maxGapMs(pollIntervalMs: number): number {
  return MAX_GAP_POLL_INTERVALS * pollIntervalMs;
}

const MS_PER_HOUR = 3_600_000;

export function addSample(total: EnergyTotal, sample: PowerSample | undefined, maxGap: number): EnergyTotal {
  if (
    sample === undefined ||
    !Number.isFinite(sample.watts) ||
    sample.watts < 0 ||
    !Number.isFinite(sample.at)
  )
    return { kwh: total.kwh };
  const last = total.last;
  if (last === undefined) return { kwh: total.kwh, last: sample };
  const dt = sample.at - last.at;
  if (dt <= 0 || dt > maxGap) return { kwh: total.kwh, last: sample };
  const wh = (((last.watts + sample.watts) / 2) * dt) / MS_PER_HOUR;
  return { kwh: total.kwh + wh / 1000, last: sample };
}
