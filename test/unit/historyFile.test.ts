import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  HISTORY_FILE,
  historyFileText,
  loadHistoryFile,
  parseHistoryFile,
  saveHistoryFile,
  type UpsHistoryEntry,
} from '../../src/history/historyFile.js';

const entry: UpsHistoryEntry = {
  since: 1000,
  seenUntil: 9000,
  current: { start: 8000, startSeen: true, startKwh: 0.5 },
  log: {
    records: [{ start: 2000, startSeen: true, end: 3000, lastSeen: 3000, wh: 1.25 }],
    folded: [{ hour: 0, count: 3, ms: 1500 }],
    longest: { start: 2000, startSeen: true, end: 3000, lastSeen: 3000, wh: 1.25 },
    gaps: [{ from: 4000, to: 5000 }],
  },
  selfTest: {
    test: 'quick',
    result: 'passed',
    detail: 'Done and passed',
    origin: 'command',
    startedAt: 6000,
    at: 7000,
  },
};

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'history-'));
  dirs.push(dir);
  return dir;
};

describe('the history file', () => {
  it('reads back exactly what it wrote', async () => {
    const dir = await tempDir();
    await saveHistoryFile(join(dir, 'data'), new Map([['ups1', entry]]));
    const loaded = await loadHistoryFile(join(dir, 'data'));
    expect(loaded).toEqual({ ok: true, entries: new Map([['ups1', entry]]) });
    // Atomic: no temporary file is left beside it.
    expect(await readdir(join(dir, 'data'))).toEqual([HISTORY_FILE]);
  });

  it('a missing file is a fresh start that may be written', async () => {
    const loaded = await loadHistoryFile(await tempDir());
    expect(loaded).toMatchObject({ ok: false, canSave: true });
    expect(loaded.entries.size).toBe(0);
  });

  it('sets an unusable file aside as history.json.bad instead of writing over it', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, HISTORY_FILE), '{"version":1,"ups":{"ups1":{"since":"yesterday"}}}');
    const loaded = await loadHistoryFile(dir);
    expect(loaded).toMatchObject({ ok: false, canSave: true });
    expect(!loaded.ok && loaded.problem).toMatch(/ups1.since is not a number; kept as history.json.bad/);
    expect(await readFile(join(dir, `${HISTORY_FILE}.bad`), 'utf8')).toContain('yesterday');
  });

  it.each([
    ['not json', /not JSON/],
    ['[]', /the file is not an object/],
    ['{"version":2,"ups":{}}', /version 1/],
    ['{"version":1,"ups":[]}', /ups is not an object/],
  ])('refuses %s', (text, problem) => {
    const parsed = parseHistoryFile(text);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.problem).toMatch(problem);
  });

  it('refuses a record with a wrong field anywhere, naming it', () => {
    const text = historyFileText(new Map([['ups1', entry]]));
    const bad = text.replace('"result":"passed"', '"result":"great"');
    const parsed = parseHistoryFile(bad);
    expect(!parsed.ok && parsed.problem).toBe(
      'ups1.selfTest.result is not one of passed, warning, failed, aborted, unknown',
    );
    const badRecord = text.replace('"wh":1.25', '"wh":"1.25"');
    expect(parseHistoryFile(badRecord)).toMatchObject({
      ok: false,
      problem: 'ups1.records[0].wh is not a number',
    });
  });
});
