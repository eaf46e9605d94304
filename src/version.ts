import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The agent's version from package.json (`../package.json` from both `src/` and `dist/`). */
export function agentVersion(): string {
  cached ??= (
    JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
  return cached;
}
