/**
 * upsd's answer to a poll sent at `sentAt`, except for variables the driver's feed changed after that moment:
 * those keep the feed's (newer) value or deletion, so a slow poll never flips a fresh value back. Pure; entries of
 * `feedAt` that the poll supersedes are reported so the caller can forget them.
 */
export function mergePolledVars(
  polled: ReadonlyMap<string, string>,
  current: ReadonlyMap<string, string>,
  feedAt: ReadonlyMap<string, number>,
  sentAt: number,
): { vars: Map<string, string>; superseded: string[] } {
  const vars = new Map(polled);
  const superseded: string[] = [];
  for (const [name, at] of feedAt) {
    if (at <= sentAt) {
      superseded.push(name);
      continue;
    }
    const value = current.get(name);
    if (value === undefined) vars.delete(name);
    else vars.set(name, value);
  }
  return { vars, superseded };
}
