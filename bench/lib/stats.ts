// Small statistics helpers for the benchmarks. Percentiles use the nearest-rank method on a sorted copy.

export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Median: the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const hi = sorted[mid] as number;
  return sorted.length % 2 === 1 ? hi : ((sorted[mid - 1] as number) + hi) / 2;
}

export function max(values: readonly number[]): number | undefined {
  return values.length === 0 ? undefined : Math.max(...values);
}

export function min(values: readonly number[]): number | undefined {
  return values.length === 0 ? undefined : Math.min(...values);
}

export function mean(values: readonly number[]): number | undefined {
  return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Milliseconds as seconds with 2 decimals ("4.31 s"), or "-" when there is no value. */
export function fmtSec(ms: number | undefined): string {
  return ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`;
}

/** Milliseconds with a sensible number of decimals ("0.213 ms", "44.1 ms", "1234 ms"). */
export function fmtMs(ms: number | undefined): string {
  if (ms === undefined) return '-';
  if (Number.isInteger(ms)) return `${ms} ms`;
  const abs = Math.abs(ms);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return `${ms.toFixed(digits)} ms`;
}

/** "met" / "NOT met" for a target line. */
export function verdict(ok: boolean | undefined): string {
  return ok === undefined ? 'n/a (no data)' : ok ? 'met' : 'NOT met';
}
