import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomicFile.js';
import type { EnergyTotal } from './energyIntegrator.js';

/** The state file under DATA_PATH: every UPS's energy total and last sample, so a restart continues the total. */
export const ENERGY_FILE = 'energy.json';

interface EnergyFile {
  version: 1;
  ups: Record<string, EnergyTotal>;
}

export type LoadResult =
  | { ok: true; totals: Map<string, EnergyTotal> }
  /** `missing`: no file yet (a first start, not a problem); the totals start from 0 either way. */
  | { ok: false; totals: Map<string, EnergyTotal>; problem: string; missing?: true };

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The totals of a state file's text; a problem (the whole file is then ignored) when it is not one. Pure. */
export function parseEnergyFile(text: string): LoadResult {
  const empty = new Map<string, EnergyTotal>();
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return { ok: false, totals: empty, problem: `not JSON (${(error as Error).message})` };
  }
  const file = data as Partial<EnergyFile> | null;
  if (
    typeof file !== 'object' ||
    file === null ||
    file.version !== 1 ||
    typeof file.ups !== 'object' ||
    !file.ups
  )
    return { ok: false, totals: empty, problem: 'not an energy state file of version 1' };
  const totals = new Map<string, EnergyTotal>();
  for (const [ups, entry] of Object.entries(file.ups as Record<string, unknown>)) {
    const { kwh, last } = (entry ?? {}) as { kwh?: unknown; last?: { at?: unknown; watts?: unknown } };
    if (!isNumber(kwh) || kwh < 0) return { ok: false, totals: empty, problem: `bad total for ${ups}` };
    const validLast = last && isNumber(last.at) && isNumber(last.watts) && last.watts >= 0;
    totals.set(
      ups,
      validLast ? { kwh, last: { at: last.at as number, watts: last.watts as number } } : { kwh },
    );
  }
  return { ok: true, totals };
}

export function energyFileText(totals: ReadonlyMap<string, EnergyTotal>): string {
  const file: EnergyFile = { version: 1, ups: Object.fromEntries(totals) };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** Reads the state file; a missing or unreadable file is a problem too (the caller warns once and starts at 0). */
export async function loadEnergyFile(dataPath: string): Promise<LoadResult> {
  const path = join(dataPath, ENERGY_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      return { ok: false, totals: new Map(), problem: 'it does not exist yet', missing: true };
    return { ok: false, totals: new Map(), problem: (error as Error).message };
  }
  return parseEnergyFile(text);
}

/** Writes the state file atomically (writeFileAtomic). */
export async function saveEnergyFile(
  dataPath: string,
  totals: ReadonlyMap<string, EnergyTotal>,
): Promise<void> {
  await writeFileAtomic(join(dataPath, ENERGY_FILE), energyFileText(totals));
}
