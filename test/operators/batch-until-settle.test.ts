import fc from 'fast-check';
import { catchError, concatMap, EMPTY, finalize, map, NEVER, of, Subject, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/errors.js';
import { markSource, traceSources } from '../../src/observe/lineage.js';
import { currentSettlement } from '../../src/settle/settle-scope.js';
import { fileBatchBuffer } from '../../src/state/file-batch-buffer.js';
import { lmdbBatchBuffer } from '../../src/state/lmdb-batch-buffer.js';
import { batchUntil, type Batch } from '../../operators/batch-until.js';
import { onCount } from '../../operators/on-count.js';
import { onSubject } from '../../operators/on-subject.js';
import { SettleLog, slowSink } from '../helpers/settle-log.js';
import { useTempDir } from '../helpers/temp-dir.js';
import { useTempStateStores } from '../helpers/temp-state-store.js';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const tick = (s: string) => ({ subject: s });
/** Processes each batch with `work` per chunk of 10, releasing it when the work ends (as the docs show). */
const processEach = <T>(work: (chunk: readonly T[]) => Observable<unknown>) =>
  concatMap((batch: Batch<T>) =>
    batch.processChunks(10, work).pipe(
      finalize(() => batch.release()),
      catchError(() => EMPTY),
    ),
  );

const tempStore = useTempStateStores('bus');

describe('batchUntil settles its inputs (memory buffer)', () => {
  it('holds each input until its batch is processed and released', () => {
    const ts = scheduler();
    const log = new SettleLog(() => ts.now());
    ts.run(({ hot, cold, flush }) => {
      const trigger = hot('----t', { t: tick('go') });
      hot('-a-b-c------|')
        .pipe(
          log.inputs(),
          batchUntil(onSubject(trigger), { name: 'm' }),
          processEach(() => cold('---(x|)')),
        )
        .subscribe();
      flush();
    });
    // [a, b] flushed at 4, processed by 7; c flushed on completion at 12, processed by 15.
    expect(log.summary()).toEqual({ a: 'acked@7', b: 'acked@7', c: 'acked@15' });
  });

  it("a downstream effect in the batch's name (a durable sink awaiting its ack) holds the batch", () => {
    const ts = scheduler();
    const log = new SettleLog(() => ts.now());
    ts.run(({ hot, cold, flush }) => {
      hot('-a-b-|')
        .pipe(
          log.inputs(),
          batchUntil(() => NEVER, { name: 'm' }),
          processEach((chunk) => of(chunk.length)),
          slowSink(() => cold('-----|')),
        )
        .subscribe();
      flush();
    });
    // flushed and processed at 5 (completion), released at once; the sink's ack comes at 10.
    expect(log.summary()).toEqual({ a: 'acked@10', b: 'acked@10' });
  });

  it('a failed chunk, a failed downstream effect or batch.fail() fails every member', () => {
    for (const how of ['work', 'sink', 'fail'] as const) {
      const ts = scheduler();
      const log = new SettleLog(() => ts.now());
      ts.run(({ hot, cold, flush }) => {
        hot('-a-b-|')
          .pipe(
            log.inputs(),
            batchUntil(() => NEVER, { name: 'f' }),
            concatMap((batch) => {
              if (how === 'fail') batch.fail(new Error('rejected'));
              return batch
                .processChunks<unknown>(10, () => (how === 'work' ? cold('--#') : of(1)))
                .pipe(
                  finalize(() => batch.release()),
                  catchError(() => EMPTY),
                );
            }),
            slowSink(() => (how === 'sink' ? cold('---#') : cold('|'))),
          )
          .subscribe();
        flush();
      });
      const at = how === 'work' ? 7 : how === 'sink' ? 8 : 5;
      expect(log.summary(), how).toEqual({ a: `failed@${at}`, b: `failed@${at}` });
    }
  });

  it('values of the open batch are failed (redelivered) when unsubscribed or when the source errors', () => {
    for (const end of ['unsubscribe', 'error'] as const) {
      const ts = scheduler();
      const log = new SettleLog(() => ts.now());
      ts.run(({ hot, flush }) => {
        const sub = hot(end === 'error' ? '-a-b-#' : '-a-b---')
          .pipe(
            log.inputs(),
            batchUntil(() => NEVER, { name: 'u' }),
          )
          .subscribe({ error: () => undefined });
        ts.schedule(() => sub.unsubscribe(), 6);
        flush();
      });
      expect(log.summary(), end).toEqual({ a: `failed@${end === 'error' ? 5 : 6}`, b: `failed@${end === 'error' ? 5 : 6}` });
    }
  });

  it('a batch whose processing is unsubscribed before its end fails its members', () => {
    const ts = scheduler();
    const log = new SettleLog(() => ts.now());
    ts.run(({ hot, cold, flush }) => {
      const sub = hot('-a-b-|')
        .pipe(
          log.inputs(),
          batchUntil(() => NEVER, { name: 'c' }),
          processEach(() => cold('----(x|)')),
        )
        .subscribe();
      ts.schedule(() => sub.unsubscribe(), 7);
      flush();
    });
    expect(log.summary()).toEqual({ a: 'failed@7', b: 'failed@7' });
  });

  it('inputs without a settlement (core NATS) work as before', () => {
    const seen: string[] = [];
    of('a', 'b', 'c')
      .pipe(batchUntil(onCount(2), { name: 'plain' }))
      .subscribe((b) => {
        seen.push(b.items().join(''));
        b.release();
      });
    expect(seen).toEqual(['ab', 'c']);
  });

  it('fed by a stream, the batch is cut at its maxUnsettled by default; a larger maxItems is refused when built', () => {
    const values = new Subject<string>();
    const stream$ = markSource(values.asObservable(), { kind: 'stream', stream: 'PREFS', subject: 'prefs.>', ordered: false, maxUnsettled: 3 });
    const seen: string[] = [];
    stream$.pipe(batchUntil(() => NEVER, { name: 'cap' })).subscribe((b) => {
      seen.push(`${b.reason}:${b.items().join('')}`);
      b.release();
    });
    for (const v of 'abcdefg') values.next(v);
    values.complete();
    expect(seen).toEqual(['max-items:abc', 'max-items:def', 'complete:g']);
    expect(() => stream$.pipe(batchUntil(() => NEVER, { name: 'big', maxItems: 4 }))).toThrow(InvalidConfigError);
    expect(() => stream$.pipe(batchUntil(() => NEVER, { name: 'big', maxItems: 4 }))).toThrow(/maxUnsettled \(3\) of stream 'PREFS'/);
    expect(() => stream$.pipe(batchUntil(() => NEVER, { name: 'ok', maxItems: 2 }))).not.toThrow();
  });

  it('describe follows a path through it: a group, not recorded', () => {
    const stream$ = markSource(NEVER, { kind: 'stream', stream: 'S', subject: 's', ordered: false, maxUnsettled: 10 });
    const trace = traceSources(
      stream$.pipe(
        batchUntil(() => NEVER, { name: 'd' }),
        map((b) => b.count),
      ),
    );
    expect(trace.sources.map((s) => s.stream)).toEqual(['S']);
    expect(trace.stages).toEqual([{ name: 'batchUntil:d', effect: 'groups' }]);
  });
});

describe('batchUntil settles its inputs (durable buffer)', () => {
  it('acknowledges each input once its value is stored, in one commit per turn; the batch is the store’s', () => {
    const store = tempStore();
    const buffer = lmdbBatchBuffer<string>({ store, name: 'd' });
    const ts = scheduler();
    const log = new SettleLog(() => ts.now());
    const commits: number[] = [];
    const batches: Batch<string>[] = [];
    ts.run(({ hot, flush }) => {
      const trigger = hot('--------t', { t: tick('go') });
      const before = store.stats.commits;
      hot('-(ab)-c--|')
        .pipe(log.inputs(), batchUntil(onSubject(trigger), { name: 'd', buffer }))
        .subscribe((b) => batches.push(b));
      ts.schedule(() => commits.push(store.stats.commits - before), 2);
      flush();
    });
    // a and b arrive in one frame: one commit; c in another. Settled then, long before the trigger.
    expect(log.summary()).toEqual({ a: 'acked@1', b: 'acked@1', c: 'acked@6' });
    expect(commits).toEqual([1]);
    expect(batches.map((b) => `${b.batchId}:${b.items().join('')}`)).toEqual(['d:1:abc']);
  });

  it("a batch's effects run under a replay-stable key; a failed batch stays stored and comes back on the next start", () => {
    const store = tempStore();
    const keys: string[] = [];
    // Processing fails unless the batch is a recovered one.
    const run = (source: Observable<string>) =>
      source.pipe(
        batchUntil(() => NEVER, { name: 'r', buffer: lmdbBatchBuffer<string>({ store, name: 'r' }) }),
        concatMap((batch) =>
          batch
            .processChunks(10, (chunk) => {
              const s = currentSettlement();
              keys.push(`${s?.key}/${s?.replayStable}/${batch.reason}/${chunk.join('')}`);
              if (batch.reason !== 'recovered') throw new Error('downstream down');
              return of(1);
            })
            .pipe(
              finalize(() => batch.release()),
              catchError(() => EMPTY),
            ),
        ),
      );
    run(of('a', 'b')).subscribe();
    expect(
      lmdbBatchBuffer<string>({ store, name: 'r' })
        .unreleased()
        .map((s) => s.read(0, 10).join('')),
    ).toEqual(['ab']);
    run(EMPTY).subscribe();
    // chunk 0 of batch 1, both times
    expect(keys).toEqual(['batch:r:1:0/true/complete/ab', 'batch:r:1:0/true/recovered/ab']);
    expect(lmdbBatchBuffer<string>({ store, name: 'r' }).unreleased()).toEqual([]);
  });

  it('an input whose value cannot be stored is failed', () => {
    const log = new SettleLog();
    const broken = {
      durable: true,
      append: () => {
        throw new Error('disk full');
      },
      count: () => 0,
      seal: () => {
        throw new Error('no');
      },
      unreleased: () => [],
    };
    const errors: string[] = [];
    // completion commits the pending value at once, and the store refuses it
    of('a')
      .pipe(
        log.inputs(),
        batchUntil(() => NEVER, { name: 'x', buffer: broken }),
      )
      .subscribe({ error: (e: Error) => errors.push(e.message) });
    expect([log.state('a'), errors]).toEqual(['failed', ['disk full']]);
  });
});

describe('batchUntil settles its inputs (file buffer)', () => {
  const dir = useTempDir('bus-file');

  it('acknowledges each input once its turn’s commit is written; a failed batch stays in the files and comes back on the next start', () => {
    const ts = scheduler();
    const log = new SettleLog(() => ts.now());
    const buffer = fileBatchBuffer<string>({ dir: dir(), noSync: true });
    const batches: Batch<string>[] = [];
    ts.run(({ hot, flush }) => {
      const trigger = hot('--------t', { t: tick('go') });
      hot('-(ab)-c--|')
        .pipe(log.inputs(), batchUntil(onSubject(trigger), { name: 'f', buffer }))
        .subscribe((b) => batches.push(b));
      flush();
    });
    expect(log.summary()).toEqual({ a: 'acked@1', b: 'acked@1', c: 'acked@6' });
    expect(batches.map((b) => `${b.batchId}:${b.items().join('')}`)).toEqual(['f:1:abc']);
    // Processing fails: the batch stays stored (not released) ...
    batches[0]!.fail(new Error('downstream down'));
    buffer.close();
    // ... and the next start emits it again, as 'recovered', under the same batch id.
    const again = fileBatchBuffer<string>({ dir: dir(), noSync: true });
    const recovered: string[] = [];
    EMPTY.pipe(
      batchUntil(() => NEVER, { name: 'f', buffer: again }),
      concatMap((batch) =>
        batch.processChunks(10, (chunk) => of(recovered.push(`${batch.batchId}:${batch.reason}:${chunk.join('')}`))).pipe(finalize(() => batch.release())),
      ),
    ).subscribe();
    expect(recovered).toEqual(['f:1:recovered:abc']);
    expect(again.unreleased()).toEqual([]);
    again.close();
  });
});

/*
 * Random interleavings of values, triggers and batch verdicts against the rule: an input is
 * settled exactly when the batch holding it has been released, as failed exactly when that batch
 * failed, and never twice.
 */
describe('batchUntil settlement (property)', () => {
  type Step = { kind: 'value' } | { kind: 'trigger' } | { kind: 'verdict'; pick: number; ok: boolean };
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 5, arbitrary: fc.constant({ kind: 'value' as const }) },
    { weight: 2, arbitrary: fc.constant({ kind: 'trigger' as const }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('verdict' as const), pick: fc.nat(), ok: fc.boolean() }) },
  );

  it('settles each input once, when and as its batch settles', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const log = new SettleLog();
        const values = new Subject<string>();
        const trigger = new Subject<{ subject: string }>();
        const open: Batch<string>[] = [];
        const verdict = new Map<string, 'acked' | 'failed'>();
        values.pipe(log.inputs(), batchUntil(onSubject(trigger), { name: 'p', maxUnreleasedBatches: 1_000 })).subscribe((b) => open.push(b));
        const check = () => {
          for (const key of log.held()) expect(verdict.has(key), `${key} held after its batch settled`).toBe(false);
          for (const [key, as] of verdict) expect(log.state(key), key).toBe(as);
        };
        let n = 0;
        for (const s of steps) {
          if (s.kind === 'value') values.next(`v${n++}`);
          else if (s.kind === 'trigger') trigger.next({ subject: 't' });
          else if (open.length > 0) {
            const [b] = open.splice(s.pick % open.length, 1);
            if (!s.ok) b!.fail(new Error('no'));
            for (const v of b!.items()) verdict.set(v, s.ok ? 'acked' : 'failed');
            b!.release();
          }
          check();
        }
        values.complete();
        for (const b of open.splice(0)) {
          for (const v of b.items()) verdict.set(v, 'acked');
          b.release();
        }
        check();
        expect(log.held()).toEqual([]);
        expect(log.settledTwice()).toEqual([]);
        expect(Object.keys(log.summary())).toHaveLength(n);
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 200) },
    );
  });
});
