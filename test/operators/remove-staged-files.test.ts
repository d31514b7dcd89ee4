import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/errors.js';
import { removeStagedFiles } from '../../operators/remove-staged-files.js';
import { writeStagedFiles } from '../../operators/write-staged-files.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('removeStagedFiles', () => {
  it('removes the chosen loads (manifest and files) of one name and keeps the rest; again, it removes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'remove-staged-'));
    dirs.push(dir);
    await writeStagedFiles([{ t: 'a' }, { t: 'b' }], { dir, format: 'ndjson', name: 'part', key: '1-0', partitionBy: (r) => r.t });
    const kept = await writeStagedFiles([{ t: 'a' }], { dir, format: 'ndjson', name: 'part', key: '2-0' });
    const other = await writeStagedFiles([{ t: 'a' }], { dir, format: 'ndjson', name: 'other', key: '1-0' });
    const earlier = (m: { batchKey: string }) => Number.parseInt(m.batchKey, 10) < 2;
    expect(await removeStagedFiles({ dir, name: 'part', loads: earlier })).toBe(1);
    expect(readdirSync(dir).sort()).toEqual(
      [kept.manifestName, ...kept.files.map((f) => f.file), other.manifestName, ...other.files.map((f) => f.file)].sort(),
    );
    expect(await removeStagedFiles({ dir, name: 'part', loads: earlier })).toBe(0);
    expect(await removeStagedFiles({ dir: join(dir, 'missing'), loads: () => true })).toBe(0);
  });

  it('throws InvalidConfigError at once without a `loads` choice', () => {
    expect(() => removeStagedFiles({ dir: 'x' } as never)).toThrow(InvalidConfigError);
  });
});
