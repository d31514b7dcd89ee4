import { readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { catchError, concatMap, firstValueFrom, from, map, of, Subject, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/errors.js';
import { batchUntil } from '../../operators/batch-until.js';
import { fileDrop } from '../../operators/file-drop.js';
import { onSubject } from '../../operators/on-subject.js';
import { PollFailedError } from '../../operators/poll.js';
import { dropFile } from '../helpers/drop-file.js';
import { useTempDir } from '../helpers/temp-dir.js';

describe('fileDrop (real files in a temp dir)', () => {
  const dir = useTempDir('drop');

  it("emits complete files matching the pattern, ignores temp files; 'explicit': moved to done/ by complete()", async () => {
    await dropFile(dir(), 'a.csv', 'x,y');
    await writeFile(join(dir(), 'b.csv.tmp'), 'half');
    await writeFile(join(dir(), '.hidden.csv'), 'no');
    await writeFile(join(dir(), 'c.partial'), 'no');
    await writeFile(join(dir(), 'notes.txt'), 'no');
    const file = await firstValueFrom(fileDrop(dir(), { pattern: '*.csv', pollMs: 10, completion: 'explicit' }));
    expect([file.name, file.size, file.subject, file.attempt]).toEqual(['a.csv', 3, 'file.received', 1]);
    expect(await readFile(file.path, 'utf8')).toBe('x,y');
    const moved = await file.complete();
    expect(moved).toBe(join(dir(), 'done', 'a.csv'));
    expect(await file.complete()).toBe(moved);
    expect((await readdir(dir())).sort()).toEqual(['.hidden.csv', 'b.csv.tmp', 'c.partial', 'done', 'failed', 'notes.txt']);
  });

  it('fail(err) moves the file to failed/ with an error record beside it', async () => {
    await dropFile(dir(), 'bad.json', '{');
    const file = await firstValueFrom(fileDrop(dir(), { pollMs: 10, completion: 'explicit' }));
    const moved = await file.fail(new SyntaxError('Unexpected end of JSON input'));
    expect(moved).toBe(join(dir(), 'failed', 'bad.json'));
    const record = JSON.parse(await readFile(`${moved}.error.json`, 'utf8')) as { file: string; error: { name: string; message: string } };
    expect(record.file).toBe('bad.json');
    expect(record.error).toEqual({ name: 'SyntaxError', message: 'Unexpected end of JSON input' });
  });

  it('processes oldest first, at most maxInFlight at a time, end to end with a processing pipeline', async () => {
    for (const n of ['1', '2', '3']) await dropFile(dir(), `f${n}.txt`, n);
    let active = 0;
    let maxActive = 0;
    const names = await firstValueFrom(
      fileDrop(dir(), { pollMs: 10, maxInFlight: 1, completion: 'explicit' }).pipe(
        concatMap((f) => {
          active++;
          maxActive = Math.max(maxActive, active);
          return from(readFile(f.path, 'utf8')).pipe(
            concatMap((text) => (text === '2' ? f.fail(new Error('two')) : f.complete()).then(() => (active--, `${f.name}:${text}`))),
          );
        }),
        take(3),
        toArray(),
      ),
    );
    expect(names).toEqual(['f1.txt:1', 'f2.txt:2', 'f3.txt:3']);
    expect(maxActive).toBe(1);
    expect((await readdir(join(dir(), 'done'))).sort()).toEqual(['f1.txt', 'f3.txt']);
    expect((await readdir(join(dir(), 'failed'))).sort()).toEqual(['f2.txt', 'f2.txt.error.json']);
  });

  it('after a restart, files that were in flight are emitted again', async () => {
    await dropFile(dir(), 'order.csv', '1');
    const first = await firstValueFrom(fileDrop(dir(), { pollMs: 10, completion: 'explicit' }));
    // the process "stops" here without completing the file
    const again = await firstValueFrom(fileDrop(dir(), { pollMs: 10, completion: 'explicit' }));
    expect(again.name).toBe(first.name);
  });

  it('a name dropped twice does not overwrite the earlier one in done/ (complete() resolves where it went)', async () => {
    await dropFile(dir(), 'daily.csv', 'monday');
    await (await firstValueFrom(fileDrop(dir(), { pollMs: 10 }))).complete();
    await dropFile(dir(), 'daily.csv', 'tuesday');
    const moved = await (await firstValueFrom(fileDrop(dir(), { pollMs: 10 }))).complete();
    expect(moved).toBe(join(dir(), 'done', 'daily.csv.1'));
    expect(await readFile(join(dir(), 'done', 'daily.csv'), 'utf8')).toBe('monday');
  });

  it('a "file received" event triggers batchUntil', async () => {
    const records = new Subject<string>();
    const files = fileDrop(dir(), { pollMs: 10 });
    const batchP = firstValueFrom(records.pipe(batchUntil(onSubject(files), { name: 'import' })));
    records.next('r1');
    records.next('r2');
    await dropFile(dir(), 'eod.flag', '');
    const batch = await batchP;
    expect([batch.reason, batch.items()]).toEqual(['file.received', ['r1', 'r2']]);
  });

  it('a scan failure is reported and, repeated, errors the source', async () => {
    const notADir = join(dir(), 'plain-file');
    await writeFile(notADir, '');
    const seen: number[] = [];
    const result = await firstValueFrom(
      fileDrop(join(notADir, 'inbox'), { pollMs: 5, maxConsecutiveFailures: 2, onError: (_e, n) => seen.push(n) }).pipe(
        map(() => 'file'),
        catchError((e: unknown) => of(e instanceof PollFailedError ? 'failed' : 'other')),
      ),
    );
    expect(result).toBe('failed');
    expect(seen).toEqual([1, 2]);
  });

  it('validates its config at creation', () => {
    expect(() => fileDrop('')).toThrow(InvalidConfigError);
    expect(() => fileDrop(dir(), { maxInFlight: 0 })).toThrow(/maxInFlight/);
    expect(() => fileDrop(dir(), { pattern: '' })).toThrow(/pattern/);
    expect(() => fileDrop(dir(), { pollMs: -5 })).toThrow(/pollMs/);
    expect(() => fileDrop(dir(), { maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => fileDrop(dir(), { completion: 'manual' as never })).toThrow(/completion/);
  });

  it('settleMs skips files modified too recently (writers that do not rename)', async () => {
    await writeFile(join(dir(), 'old.csv'), 'o');
    await writeFile(join(dir(), 'fresh.csv'), 'f');
    const hourAgo = new Date(Date.now() - 3600_000);
    await utimes(join(dir(), 'old.csv'), hourAgo, hourAgo);
    // One scan emits all its files synchronously: collect them, then stop after that scan.
    const seen: string[] = [];
    await new Promise<void>((resolve) => {
      const sub = fileDrop(dir(), { pollMs: 5, settleMs: 60_000, maxInFlight: 5 }).subscribe((f) => {
        seen.push(f.name);
        queueMicrotask(() => {
          sub.unsubscribe();
          resolve();
        });
      });
    });
    expect(seen).toEqual(['old.csv']);
  });
});
