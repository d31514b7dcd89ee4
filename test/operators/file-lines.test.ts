import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { fileLines, FileOutsideDirError } from '../../operators/file-lines.js';
import { InvalidConfigError } from '../../src/errors.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sluice-file-lines-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('fileLines', () => {
  it('emits each non-blank line with its number in the file, CRLF or LF, then completes', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.ndjson'), 'one\r\n\n  \ntwo\nthree');
    const lines = await lastValueFrom(fileLines({ dir, path: 'a.ndjson' }).pipe(toArray()));
    expect(lines).toEqual([
      { line: 1, text: 'one' },
      { line: 4, text: 'two' },
      { line: 5, text: 'three' },
    ]);
  });

  it('keeps blank lines when asked', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.txt'), 'x\n\ny\n');
    const lines = await lastValueFrom(fileLines({ path: join(dir, 'a.txt'), keepBlank: true }).pipe(toArray()));
    expect(lines.map((l) => l.text)).toEqual(['x', '', 'y']);
  });

  it('reads a file larger than one chunk in order', async () => {
    const dir = tempDir();
    const n = 20_000;
    writeFileSync(join(dir, 'big.txt'), Array.from({ length: n }, (_, i) => `line-${i}`).join('\n'));
    const lines = await lastValueFrom(fileLines({ dir, path: 'big.txt' }).pipe(toArray()));
    expect(lines).toHaveLength(n);
    expect(lines.every((l, i) => l.text === `line-${i}` && l.line === i + 1)).toBe(true);
  });

  it('errors with ENOENT naming the path for a missing file', async () => {
    const dir = tempDir();
    await expect(lastValueFrom(fileLines({ dir, path: 'missing.txt' }))).rejects.toThrow(/ENOENT.*missing\.txt/);
  });

  it('refuses a path that leaves its dir', async () => {
    const dir = tempDir();
    for (const path of ['../etc/passwd', '/etc/passwd', 'a/../../b']) {
      const err = await lastValueFrom(fileLines({ dir, path })).catch((e: unknown) => e);
      expect(err, path).toBeInstanceOf(FileOutsideDirError);
      expect((err as Error).message).toContain(JSON.stringify(path));
    }
  });

  it('stops reading when unsubscribed', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.txt'), 'a\nb\nc\n');
    await expect(firstValueFrom(fileLines({ dir, path: 'a.txt' }).pipe(take(1)))).resolves.toEqual({ line: 1, text: 'a' });
  });

  it('throws InvalidConfigError for an empty path or dir', () => {
    expect(() => fileLines({ path: '' })).toThrow(InvalidConfigError);
    expect(() => fileLines({ path: 'a', dir: '' })).toThrow(InvalidConfigError);
  });
});
