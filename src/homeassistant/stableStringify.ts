/**
 * JSON with object keys sorted at every level, so equal payloads always give equal strings whatever order their
 * builder added the keys in. Array order is kept (it means something: availability, options). Like
 * JSON.stringify, undefined object fields are left out.
 */
export function stableStringify(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort())
    sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
  return sorted;
}
