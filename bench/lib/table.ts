// Plain-text tables: left-aligned first column, right-aligned numbers, a rule under the header.

export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (text: string, i: number): string =>
    i === 0 ? text.padEnd(widths[i] ?? 0) : text.padStart(widths[i] ?? 0);
  const line = (cells: readonly string[]): string =>
    headers
      .map((_, i) => cell(cells[i] ?? '', i))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

export function printTable(
  title: string,
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): void {
  process.stdout.write(`\n${title}\n${formatTable(headers, rows)}\n`);
}
