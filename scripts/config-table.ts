// `npm run docs:config`: rewrites the configuration table in README.md from the convict schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withConfigTable } from '../src/config/docs.js';

const readme = join(import.meta.dirname, '..', 'README.md');
const before = readFileSync(readme, 'utf8');
const after = withConfigTable(before);
writeFileSync(readme, after);
console.log(
  before === after ? 'README configuration table already up to date' : 'README configuration table updated',
);
