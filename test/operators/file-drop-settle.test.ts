import { access, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { firstValueFrom, map, take, tap, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { traceSources } from '../../src/observe/lineage.js';
import { currentSettlement } from '../../src/settle/settle-scope.js';
import { fileDrop, type DroppedFile } from '../../operators/file-drop.js';
import { settleMap } from '../../operators/settle-map.js';
import { dropFile } from '../helpers/drop-file.js';
import { useTempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** A promise the test settles by hand: stands for an import that takes as long as the test wants. */
function gate<T = void>() {
  let open!: (v: T) => void;
  let shut!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((open = res), (shut = rej)));
  return { promise, open, shut };
}

describe("fileDrop moves a file only after its effects are complete ('settled', the default)", () => {
  const dir = useTempDir('drop-settle');

  it('stays in the directory while a settle-aware stage works on it, then goes to done/', async () => {
    await dropFile(dir(), 'orders.csv', 'id\n1\n');
    const importing = gate<number>();
    const started = gate<DroppedFile>();
    const rows: number[] = [];
    const sub = fileDrop(dir(), { pollMs: 10 })
      .pipe(
        settleMap({
          name: 'import',
          project: (file: DroppedFile) => {
            started.open(file);
            return importing.promise;
          },
        }),
      )
      .subscribe((n) => rows.push(n));
    const file = await started.promise;
    // the import is still running: the file has not moved
    await new Promise((r) => setTimeout(r, 30));
    expect(await exists(join(dir(), 'orders.csv'))).toBe(true);
    importing.open(1);
    expect(await file.complete()).toBe(join(dir(), 'done', 'orders.csv'));
    sub.unsubscribe();
    expect(rows).toEqual([1]);
    expect(await exists(join(dir(), 'orders.csv'))).toBe(false);
  });

  it("a stage that throws on the file under 'resume' supervision (settleMap's default) sends it to failed/ at once, with the error", async () => {
    await dropFile(dir(), 'poison.csv', 'x');
    const seen: number[] = [];
    const sub = fileDrop(dir(), { pollMs: 5, maxAttempts: 3 })
      .pipe(
        tap((f) => seen.push(f.attempt)),
        settleMap({ name: 'import', project: (f: DroppedFile) => Promise.reject(new Error(`cannot import ${f.name}`)) }),
      )
      .subscribe();
    await until(() => exists(join(dir(), 'failed', 'poison.csv.error.json')));
    sub.unsubscribe();
    const record = JSON.parse(await readFile(join(dir(), 'failed', 'poison.csv.error.json'), 'utf8')) as { attempts: number; error: { message: string } };
    expect([seen, record.attempts, record.error.message]).toEqual([[1], 1, 'cannot import poison.csv']);
  });

  it("a failed effect under 'retry' leaves the file for another attempt; after maxAttempts it goes to failed/ with the error", async () => {
    await dropFile(dir(), 'bad.csv', 'x');
    const seen: number[] = [];
    const sub = fileDrop(dir(), { pollMs: 5, maxAttempts: 2 })
      .pipe(
        tap((f) => seen.push(f.attempt)),
        settleMap({ name: 'import', supervision: 'retry', project: (f: DroppedFile) => Promise.reject(new Error(`attempt ${f.attempt} failed`)) }),
      )
      .subscribe();
    await until(() => exists(join(dir(), 'failed', 'bad.csv.error.json')));
    sub.unsubscribe();
    const record = JSON.parse(await readFile(join(dir(), 'failed', 'bad.csv.error.json'), 'utf8')) as { attempts: number; error: { message: string } };
    expect([seen, record.attempts, record.error.message]).toEqual([[1, 2], 2, 'attempt 2 failed']);
    expect(await readdir(dir())).not.toContain('bad.csv');
  });

  it('fail(err) inside the work is final: failed/ at once, no further attempt', async () => {
    await dropFile(dir(), 'rejected.csv', 'x');
    const seen: number[] = [];
    const sub = fileDrop(dir(), { pollMs: 5 })
      .pipe(
        tap((f) => seen.push(f.attempt)),
        settleMap({ name: 'validate', project: async (f: DroppedFile) => void f.fail(new Error('no header row')) }),
      )
      .subscribe();
    await until(() => exists(join(dir(), 'failed', 'rejected.csv.error.json')));
    sub.unsubscribe();
    expect(seen).toEqual([1]);
  });

  it("'explicit': the file waits for complete() and for the effects in flight", async () => {
    await dropFile(dir(), 'a.csv', 'x');
    const file = await firstValueFrom(fileDrop(dir(), { pollMs: 10, completion: 'explicit' }));
    await new Promise((r) => setTimeout(r, 20));
    expect(await exists(file.path)).toBe(true);
    expect(await file.complete()).toBe(join(dir(), 'done', 'a.csv'));
  });

  it('each file has its own settlement, replay-stable when the source is named; describe sees it as a polling source', async () => {
    await dropFile(dir(), 'one.csv', '1');
    const keys = await firstValueFrom(
      fileDrop(dir(), { pollMs: 10, name: 'inbox' }).pipe(
        map((f) => {
          const s = currentSettlement();
          return `${s?.key.replace(/:\d+(\.\d+)?$/, ':<mtime>')}/${s?.replayStable}/${f.size}`;
        }),
        take(1),
        toArray(),
      ),
    );
    expect(keys).toEqual(['fileDrop:inbox:one.csv:1:<mtime>/true/1']);
    expect(traceSources(fileDrop(dir(), { name: 'inbox' }).pipe(map(() => 1))).sources).toEqual([
      { kind: 'poll', subject: 'fileDrop:inbox', name: 'inbox', replayStable: true },
    ]);
  });
});
