import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, of, toArray } from 'rxjs';
import { afterEach, expect, it } from 'vitest';
import { fileSink } from '../../operators/index.js';
import { readStagedFiles } from './staged-files.js';

// The crash row m's checker must be able to fail: each kind of damage is reported.
let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('reports a changed file, a temporary file left behind and a file without a manifest', async () => {
  dir = mkdtempSync(join(tmpdir(), 'staged-check-'));
  const [file] = await lastValueFrom(
    of([
      { id: 'a', n: 1 },
      { id: 'b', n: 2 },
    ]).pipe(fileSink({ dir, format: 'ndjson', name: 'o' }), toArray()),
  );
  const clean = readStagedFiles(dir);
  expect(clean.problems).toEqual([]);
  expect(clean.outputs.map((o) => o.id)).toEqual(['a', 'b']);

  appendFileSync(file!.path, '{"id":"c"');
  writeFileSync(join(dir, '.o.x.ndjson.tmp'), '');
  writeFileSync(join(dir, 'o.y.ndjson'), '{"id":"d"}\n');
  const { problems } = readStagedFiles(dir);
  expect(problems).toHaveLength(4);
  expect(problems.join('\n')).toMatch(/does not end with a newline/);
  expect(problems.join('\n')).toMatch(/manifest says 2 records/);
  expect(problems.join('\n')).toMatch(/temporary file left behind: \.o\.x\.ndjson\.tmp/);
  expect(problems.join('\n')).toMatch(/o\.y\.ndjson is published without a manifest/);
});
