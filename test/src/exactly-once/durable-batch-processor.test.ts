import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchTxn } from '../../../src/exactly-once/batch-txn.js';
import { durableBatchProcessor } from '../../../src/exactly-once/durable-batch-processor.js';
import type { BatchRecord } from '../../../src/exactly-once/durable-batch-types.js';
import { NatsOrderedMessage } from '../../../src/transport/nats/nats-ordered-message.js';
import { batchBufferLayout as L, type OpenSegmentInfo, type SegmentInfo } from '../../../src/state/lmdb-batch-buffer.js';
import { openStateStore } from '../../../src/state/open-state-store.js';

type Step = 'd' | 't';

/** The sequential reference: batches (input seqs) cut by triggers and maxItems, plus the open rest. */
function model(plan: readonly Step[], maxItems: number | undefined, emitEmpty: boolean): { batches: { seqs: number[]; reason: string }[]; open: number[] } {
  const batches: { seqs: number[]; reason: string }[] = [];
  let open: number[] = [];
  plan.forEach((step, i) => {
    if (step === 't') {
      if (open.length > 0 || emitEmpty) batches.push({ seqs: open, reason: 'trigger' });
      open = [];
      return;
    }
    open.push(i + 1);
    if (maxItems !== undefined && open.length >= maxItems) {
      batches.push({ seqs: open, reason: 'max-items' });
      open = [];
    }
  });
  return { batches, open };
}

const message = (step: Step, seq: number): NatsOrderedMessage =>
  new NatsOrderedMessage(step === 't' ? 'ops.eod' : 'crm.pref', new Uint8Array([seq & 0xff, seq >> 8]), undefined, 'IN', seq, 1_000 + seq);

describe('durableBatchProcessor', () => {
  it('property: with any micro-batch cuts and crashes (uncommitted batches replayed), the buffer equals the sequential model', async () => {
    const arb = fc.record({
      plan: fc.array(fc.constantFrom<Step>('d', 'd', 'd', 't'), { maxLength: 60 }),
      cuts: fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 20 }),
      crashes: fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }),
      maxItems: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
      emitEmpty: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ plan, cuts, crashes, maxItems, emitEmpty }) => {
        const dir = mkdtempSync(join(tmpdir(), 'sluice-dbp-'));
        const store = openStateStore({ dir, topology: 'p', noSync: true });
        try {
          const ns = L.namespace('b');
          let sealedCalls = 0;
          const process = durableBatchProcessor({ name: 'b', triggerSubjects: ['ops.>'], maxItems, emitEmpty, onSealed: () => void sealedCalls++ });
          const inputs = plan.map((s, i) => message(s, i + 1));
          let position = 0;
          let k = 0;
          while (position < inputs.length) {
            const size = cuts[k % cuts.length]!;
            const crash = crashes[k % crashes.length]! && k % 3 === 1;
            k += 1;
            const batch = inputs.slice(position, position + size);
            const txn = new BatchTxn(store, 'IN', batch[0]!.seq, batch[batch.length - 1]!.seq);
            await process(batch, txn);
            txn.seal();
            if (crash) continue; // the process died before the commit: the engine replays from `position`
            store.transaction((w) => txn.writeTo(w));
            txn.runAfterCommit();
            position += batch.length;
          }
          const want = model(plan, maxItems, emitEmpty);
          const acc = store.get<OpenSegmentInfo>(ns, L.acc) ?? { open: 1, count: 0 };
          expect(acc.open - 1).toBe(want.batches.length);
          want.batches.forEach((b, i) => {
            const info = store.get<SegmentInfo>(ns, L.segment(i + 1));
            expect(info).toMatchObject({ seq: i + 1, count: b.seqs.length, reason: b.reason, firstSeq: b.seqs[0], lastSeq: b.seqs[b.seqs.length - 1] });
            const values = b.seqs.map((_, j) => store.get<BatchRecord>(ns, L.value(i + 1, j)));
            expect(values.map((v) => v?.seq)).toEqual(b.seqs);
            expect(values.map((v) => [...(v?.data ?? [])])).toEqual(b.seqs.map((s) => [s & 0xff, s >> 8]));
          });
          expect(acc.count).toBe(want.open.length);
          expect(store.get<BatchRecord>(ns, L.value(acc.open, acc.count))).toBeUndefined();
          if (want.batches.length > 0) expect(sealedCalls).toBeGreaterThan(0);
        } finally {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 40) },
    );
  }, 60_000);
});
