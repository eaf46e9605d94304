// The fault schedule, drawn up front from the seed: which fault, on which UPS, after which pause. Kinds are dealt
// from shuffled decks (each deck holds every kind once), so even a short run covers every kind and a long one
// holds them in equal shares, in random order.

import type { Rng } from '../../test/fixtures/prng.js';
import type { FaultKind } from './faults.js';

export interface PlannedFault {
  n: number;
  kind: FaultKind;
  /** Undefined for upsd and broker faults. */
  ups?: string;
  /** Pause before the injection, after everything was healthy again. */
  gapMs: number;
}

export function planFaults(opts: {
  rng: Rng;
  count: number;
  kinds: readonly FaultKind[];
  /** Every UPS (dummy-ups and the Q1 one): targets of hang, crash and restart. */
  upses: readonly string[];
  /** The blazer_ser UPS on the Q1 simulator: the only target of the stale fault. */
  q1Ups?: string;
  gapMs: readonly [number, number];
}): PlannedFault[] {
  const { rng, count, upses, q1Ups } = opts;
  const kinds = opts.kinds.filter((k) => k !== 'stale' || q1Ups !== undefined);
  if (kinds.length === 0) throw new Error('no fault kinds to inject');
  const plan: PlannedFault[] = [];
  let deck: FaultKind[] = [];
  for (let n = 1; n <= count; n++) {
    if (deck.length === 0) deck = rng.shuffle(kinds);
    const kind = deck.shift() as FaultKind;
    const ups =
      kind === 'stale'
        ? q1Ups
        : kind === 'upsd-kill' || kind === 'broker-restart'
          ? undefined
          : rng.pick(upses);
    plan.push({
      n,
      kind,
      ...(ups === undefined ? {} : { ups }),
      gapMs: rng.int(opts.gapMs[0], opts.gapMs[1]),
    });
  }
  return plan;
}
