import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/errors.js';
import { readStagedFiles, StagedFileMismatchError } from '../../operators/read-staged-files.js';
import { writeStagedFiles } from '../../operators/write-staged-files.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'read-staged-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const all = async <T>(records: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const r of records) out.push(r);
  return out;
};

describe('readStagedFiles', () => {
  it('reads back every load of a directory, or those of one name and batch key, as they were written', async () => {
    const dir = tempDir();
    await writeStagedFiles([{ k: 'a', n: 1 }], { dir, format: 'ndjson', name: 'part', key: '1-0' });
    await writeStagedFiles(
      [
        { k: 'b', n: 2 },
        { k: 'c', n: 3 },
      ],
      { dir, format: 'ndjson', name: 'part', key: '2-0', partitionBy: (r) => r.k },
    );
    await writeStagedFiles([{ k: 'z', n: 9 }], { dir, format: 'ndjson', name: 'other', key: '1-0' });
    expect((await all(readStagedFiles<{ k: string }>({ dir }))).map((r) => r.k).sort()).toEqual(['a', 'b', 'c', 'z']);
    expect(await all(readStagedFiles({ dir, name: 'part', loads: (m) => m.batchKey.startsWith('2-') }))).toEqual([
      { k: 'b', n: 2 },
      { k: 'c', n: 3 },
    ]);
    expect(await all(readStagedFiles({ dir: join(dir, 'missing') }))).toEqual([]);
  });

  it('property: CSV rows come back as the strings fileSink wrote (commas, quotes, line breaks)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ id: fc.string(), note: fc.string() }), { minLength: 1, maxLength: 10 }), async (rows) => {
        const dir = tempDir();
        await writeStagedFiles(rows, { dir, format: 'csv', columns: ['id', 'note'], name: 'rows', key: 'k' });
        expect(await all(readStagedFiles({ dir }))).toEqual(rows);
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 50) },
    );
  });

  it('rejects a file that does not match its manifest, or is missing, before yielding any of its records', async () => {
    const dir = tempDir();
    const load = await writeStagedFiles([{ n: 1 }, { n: 2 }], { dir, format: 'ndjson', name: 'part', key: 'k' });
    writeFileSync(join(dir, load.files[0]!.file), '{"n":1}\n{"n":3}\n');
    const read = readStagedFiles({ dir });
    await expect(read.next()).rejects.toThrow(StagedFileMismatchError);
    rmSync(join(dir, load.files[0]!.file));
    await expect(all(readStagedFiles({ dir }))).rejects.toThrow(/is not there/);
  });

  it('throws InvalidConfigError at once for a bad option', () => {
    expect(() => readStagedFiles({ dir: '' })).toThrow(InvalidConfigError);
    expect(() => readStagedFiles({ dir: 'x', loads: 'all' as never })).toThrow(InvalidConfigError);
  });
});
