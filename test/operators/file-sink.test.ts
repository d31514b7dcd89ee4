import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { from, of, Subject, VirtualTimeScheduler, type Observable } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/errors.js';
import { currentSettlement, withSettlement } from '../../src/settle/settle-scope.js';
import { openStateStore } from '../../src/state/index.js';
import { Settlement } from '../../src/settle/settlement.js';
import { fileNameOf, fileSink, type StagedFile, type StagedFileManifest } from '../../operators/file-sink.js';
import { microBatch } from '../../operators/micro-batch.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'file-sink-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const until = async (done: () => boolean, ms = 5_000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

interface Order {
  id: string;
  qty: number;
}
const envelope = (seq: number): { subject: string; stream: string; seq: number; data: Order } => ({
  subject: 'orders.new',
  stream: 'ORDERS',
  seq,
  data: { id: `o${seq}`, qty: seq * 2 },
});

/** Stands for a JetStream source: each value in its own settlement; `log` records settles and whether the file was already published then. */
function deliver<T>(input: Subject<T>, key: string, value: T, onSettle: (failure: Error | undefined) => void): void {
  const s = new Settlement(key, true, (failure) => onSettle(failure));
  withSettlement(s, () => input.next(value));
  s.release();
}

const published = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => !f.startsWith('.'))
    .sort();

describe('fileSink', () => {
  it('writes each microBatch batch (cut in virtual time) as an NDJSON file with a manifest, and settles its inputs only once both are published', async () => {
    const dir = tempDir();
    const scheduler = new VirtualTimeScheduler();
    const input = new Subject<ReturnType<typeof envelope>>();
    const files: StagedFile[] = [];
    const settled: Array<{ key: string; ok: boolean; filesThen: number }> = [];
    input.pipe(microBatch({ maxCount: 3, maxWaitMs: 100, scheduler }), fileSink({ dir, format: 'ndjson', name: 'orders' })).subscribe((f) => files.push(f));
    for (let seq = 1; seq <= 4; seq++) {
      deliver(input, `ORDERS:${seq}`, envelope(seq), (failure) =>
        settled.push({ key: `ORDERS:${seq}`, ok: failure === undefined, filesThen: published(dir).length }),
      );
    }
    await until(() => files.length === 1);
    expect(settled.map((s) => s.key)).toEqual(['ORDERS:1', 'ORDERS:2', 'ORDERS:3']);
    // a 4th value waits for maxWaitMs, in virtual time
    expect(settled).toHaveLength(3);
    scheduler.flush();
    await until(() => files.length === 2);
    await until(() => settled.length === 4);
    // every input settled ok, and only after its data file AND manifest were published
    expect(settled.every((s) => s.ok)).toBe(true);
    expect(settled.map((s) => s.filesThen)).toEqual([2, 2, 2, 4]);

    const [first, second] = files as [StagedFile, StagedFile];
    expect(first.records).toBe(3);
    expect(first.inputRange).toEqual({ stream: 'ORDERS', firstSeq: 1, lastSeq: 3 });
    expect(second.inputRange).toEqual({ stream: 'ORDERS', firstSeq: 4, lastSeq: 4 });
    expect(first.batchKey).toBe('ORDERS:1+3');
    const bytes = readFileSync(first.path);
    expect(bytes.toString('utf8')).toBe('{"id":"o1","qty":2}\n{"id":"o2","qty":4}\n{"id":"o3","qty":6}\n');
    const manifest = JSON.parse(readFileSync(first.manifestPath, 'utf8')) as StagedFileManifest;
    expect(manifest.files).toEqual([{ file: fileNameOf('orders', 'ORDERS:1+3', 'ndjson'), records: 3, bytes: bytes.length, sha256: sha(bytes) }]);
    expect(manifest).toMatchObject({ version: 1, sink: 'orders', format: 'ndjson', records: 3, recorded: false, inputRange: first.inputRange });
    expect(published(dir)).toEqual(
      [first.files[0]!.file, `${first.files[0]!.file}.manifest.json`, second.files[0]!.file, `${second.files[0]!.file}.manifest.json`].sort(),
    );
  });

  it('names a file after its batch key: the same batch written again replaces its own file (no second file)', async () => {
    const dir = tempDir();
    const run = async (): Promise<StagedFile> => {
      const input = new Subject<Order[]>();
      const got: StagedFile[] = [];
      input.pipe(fileSink({ dir, format: 'ndjson', name: 'orders' })).subscribe((f) => got.push(f));
      const s = new Settlement('orders:ORDERS:7+2:ab12', true, () => undefined);
      withSettlement(s, () =>
        input.next([
          { id: 'a', qty: 1 },
          { id: 'b', qty: 2 },
        ]),
      );
      s.release();
      await until(() => got.length === 1);
      return got[0]!;
    };
    const a = await run();
    const b = await run();
    expect(b.path).toBe(a.path);
    expect(a.recorded).toBe(true);
    expect(published(dir)).toHaveLength(2); // one data file, one manifest
    expect(readFileSync(a.path, 'utf8').trim().split('\n')).toHaveLength(2);
    expect(fileNameOf('orders', 'orders:ORDERS:7+2:ab12', 'ndjson')).toMatch(/^orders\.orders_ORDERS_7_2_ab12\.[0-9a-f]{12}\.ndjson$/);
    // keys that read alike once made file-safe still get different names
    expect(fileNameOf('x', 'a:b', 'csv')).not.toBe(fileNameOf('x', 'a+b', 'csv'));
  });

  it('a recorded group replayed after a crash (members redelivered in another order) is written again under the same file name', async () => {
    const dir = tempDir();
    const store = openStateStore({ dir: join(dir, 'state'), topology: 'files' });
    const staged = join(dir, 'staged');
    const acks: string[] = [];
    const files: StagedFile[] = [];
    const start = (crashes: boolean) => {
      const input = new Subject<ReturnType<typeof envelope>>();
      const sub = input
        .pipe(microBatch({ maxCount: 2, maxWaitMs: 1_000, groups: { store, name: 'orders' } }), fileSink({ dir: staged, format: 'ndjson', name: 'orders' }))
        .subscribe((f) => {
          files.push(f);
          if (crashes) currentSettlement()?.hold(); // the process dies after the rename, before its inputs are acknowledged
        });
      return {
        deliver: (seq: number) =>
          deliver(input, `ORDERS:${seq}`, envelope(seq), (failure) => acks.push(`${seq} ${failure === undefined ? 'ack' : 'redeliver'}`)),
        stop: () => sub.unsubscribe(),
      };
    };
    const first = start(true);
    first.deliver(1);
    first.deliver(2);
    await until(() => files.length === 1);
    expect(acks).toEqual([]);
    const second = start(false);
    second.deliver(2);
    second.deliver(1);
    await until(() => acks.length === 2);
    second.stop();
    first.stop();
    await store.close();
    expect(files.map((f) => f.path)).toEqual([files[0]!.path, files[0]!.path]);
    expect(files[1]!.recorded).toBe(true);
    expect(files[1]!.files[0]!.sha256).toBe(files[0]!.files[0]!.sha256);
    expect(acks.sort()).toEqual(['1 ack', '2 ack']);
    expect(published(staged)).toHaveLength(2); // one data file, one manifest
  });

  it('writes CSV with a header row, CRLF and RFC 4180 quoting, columns from the config', async () => {
    const dir = tempDir();
    const rows = [
      { id: 'a', note: 'plain', qty: 1 },
      { id: 'b', note: 'has, comma', qty: 2 },
      { id: 'c', note: 'says "hi"\non two lines', qty: null },
      { id: 'd', qty: 4, extra: 'ignored' },
    ];
    const [file] = await collect(of(rows).pipe(fileSink({ dir, format: 'csv', name: 'notes', columns: ['id', 'note', 'qty'] })));
    expect(file!.path.endsWith('.csv')).toBe(true);
    expect(readFileSync(file!.path, 'utf8')).toBe('id,note,qty\r\na,plain,1\r\nb,"has, comma",2\r\nc,"says ""hi""\non two lines",\r\nd,,4\r\n');
  });

  it('a batch it cannot write fails its inputs for redelivery and goes on with the next batch', async () => {
    const dir = tempDir();
    const target = join(dir, 'not-a-dir');
    writeFileSync(target, 'x'); // mkdir and every write under it fail
    const input = new Subject<Order[]>();
    const failures: Array<Error | undefined> = [];
    let completed = false;
    input.pipe(fileSink({ dir: target, format: 'ndjson', name: 'orders' })).subscribe({ complete: () => (completed = true) });
    for (const key of ['b1', 'b2']) {
      const s = new Settlement(key, true, (failure) => failures.push(failure));
      withSettlement(s, () => input.next([{ id: key, qty: 1 }]));
      s.release();
    }
    input.complete();
    await until(() => completed);
    expect(failures).toHaveLength(2);
    expect(failures.every((f) => f !== undefined)).toBe(true);
  });

  it('a record it cannot write (CSV without an object, a throwing record function) dead-letters the batch at once, naming the sink', async () => {
    const dir = tempDir();
    const input = new Subject<unknown[]>();
    const outcomes: Array<{ error: string | undefined; resume: boolean | undefined; part: string | undefined }> = [];
    const files: StagedFile[] = [];
    input.pipe(fileSink({ dir, format: 'csv', name: 'rows', columns: ['id'] })).subscribe((f) => files.push(f));
    const push = (key: string, batch: unknown[]): void => {
      const s = new Settlement(key, true, (failure, outcome) => outcomes.push({ error: failure?.message, resume: outcome?.resume, part: outcome?.part }));
      withSettlement(s, () => input.next(batch));
      s.release();
    };
    push('bad', [{ id: 1 }, 'not an object']);
    push('good', [{ id: 2 }]);
    await until(() => files.length === 1);
    expect(outcomes[0]).toEqual({ error: 'record 1 is string, CSV needs an object with the columns', resume: true, part: 'fileSink:rows' });
    expect(outcomes[1]).toEqual({ error: undefined, resume: undefined, part: undefined });
    expect(published(dir)).toHaveLength(2);
  });

  it('without a settling input, a batch is named by its content and an unwritable one errors the output', async () => {
    const dir = tempDir();
    const [a] = await collect(of([{ id: 'x' }]).pipe(fileSink({ dir, format: 'ndjson', name: 'plain' })));
    expect(a!.batchKey).toBe(`content:${sha(Buffer.from('{"id":"x"}\n'))}`);
    await expect(collect(of([1n]).pipe(fileSink({ dir, format: 'ndjson', name: 'plain' })))).rejects.toThrow(/record 0 cannot be written as JSON/);
  });

  it('removes temporary files a crash left behind under its own name, and only those', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.orders.k.abc.ndjson.tmp'), 'half a fil');
    writeFileSync(join(dir, '.other.k.abc.ndjson.tmp'), 'not ours');
    await collect(from([[{ id: 'a' }]]).pipe(fileSink({ dir, format: 'ndjson', name: 'orders' })));
    expect(existsSync(join(dir, '.orders.k.abc.ndjson.tmp'))).toBe(false);
    expect(existsSync(join(dir, '.other.k.abc.ndjson.tmp'))).toBe(true);
    expect(readdirSync(dir).filter((f) => f.startsWith('.orders'))).toEqual([]);
  });

  it('unsubscribed before a batch is published: its inputs are failed (redelivered)', async () => {
    const dir = tempDir();
    const input = new Subject<Order[]>();
    const failures: Array<Error | undefined> = [];
    const sub = input.pipe(fileSink({ dir, format: 'ndjson', name: 'orders' })).subscribe();
    for (const key of ['b1', 'b2']) {
      const s = new Settlement(key, true, (failure) => failures.push(failure));
      withSettlement(s, () => input.next([{ id: key, qty: 1 }]));
      s.release();
    }
    sub.unsubscribe();
    expect(failures.map((f) => f?.message)).toEqual([
      "fileSink:orders unsubscribed before this batch's file was published",
      "fileSink:orders unsubscribed before this batch's file was published",
    ]);
  });

  it('partitionBy: one file per partition of a batch (partitions in name order, batch order within), all named in one manifest', async () => {
    const dir = tempDir();
    const rows = [
      { table: 'orders', id: 'o1' },
      { table: 'customers', id: 'c1' },
      { table: 'orders', id: 'o2' },
    ];
    const input = new Subject<typeof rows>();
    const files: StagedFile[] = [];
    input.pipe(fileSink({ dir, format: 'ndjson', name: 'changes', partitionBy: (r) => r.table })).subscribe((f) => files.push(f));
    const s = new Settlement('changes:CRM:1+3:ab', true, () => undefined);
    withSettlement(s, () => input.next(rows));
    s.release();
    await until(() => files.length === 1);
    const [load] = files as [StagedFile];
    const stem = fileNameOf('changes', 'changes:CRM:1+3:ab', 'x').slice(0, -2);
    expect(load.files.map((f) => [f.file, f.partition, f.records])).toEqual([
      [`${stem}.customers.ndjson`, 'customers', 1],
      [`${stem}.orders.ndjson`, 'orders', 2],
    ]);
    expect(load.manifestPath).toBe(`${dir}/${stem}.manifest.json`);
    expect(load.dir).toBe(dir);
    expect(readFileSync(join(dir, `${stem}.orders.ndjson`), 'utf8')).toBe('{"table":"orders","id":"o1"}\n{"table":"orders","id":"o2"}\n');
    const manifest = JSON.parse(readFileSync(load.manifestPath, 'utf8')) as StagedFileManifest;
    expect(manifest.records).toBe(3);
    for (const entry of manifest.files) expect(entry.sha256).toBe(sha(readFileSync(join(dir, entry.file))));
    expect(published(dir)).toHaveLength(3);
  });

  it('partitionBy giving a name that is not file-safe dead-letters the batch, like a record it cannot write', async () => {
    const dir = tempDir();
    const input = new Subject<Array<{ table: string }>>();
    const outcomes: Array<{ error: string | undefined; resume: boolean | undefined }> = [];
    input.pipe(fileSink({ dir, format: 'ndjson', name: 'changes', partitionBy: (r) => r.table })).subscribe();
    const s = new Settlement('k', true, (failure, outcome) => outcomes.push({ error: failure?.message, resume: outcome?.resume }));
    withSettlement(s, () => input.next([{ table: '../etc' }]));
    s.release();
    await until(() => outcomes.length === 1);
    expect(outcomes[0]!.resume).toBe(true);
    expect(outcomes[0]!.error).toMatch(/partitionBy returned "\.\.\/etc"/);
    expect(published(dir)).toEqual([]);
  });

  it('refuses a bad config, naming the field', () => {
    expect(() => fileSink({ dir: '/tmp/x', format: 'xml' as 'csv', name: 'a' })).toThrow(InvalidConfigError);
    expect(() => fileSink({ dir: '/tmp/x', format: 'csv', name: 'a' })).toThrow(/'columns' must be a non-empty array/);
    expect(() => fileSink({ dir: '/tmp/x', format: 'ndjson', name: 'a/b' })).toThrow(/'name' must be letters/);
    expect(() => fileSink({ dir: '', format: 'ndjson', name: 'a' })).toThrow(/'dir'/);
    expect(() => fileSink({ dir: '/tmp/x', format: 'ndjson', name: 'a', partitionBy: 'table' as never })).toThrow(/'partitionBy' must be a function/);
  });
});

function collect<T>(source: Observable<T>): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    source.subscribe({ next: (v) => out.push(v), error: reject, complete: () => resolve(out) });
  });
}
