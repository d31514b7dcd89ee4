import { bufferCount, from, type Observable } from 'rxjs';
import { microBatch } from '../../operators/micro-batch.js';
import { median, pair, rateOf, type BaselinePair } from './baseline-pair.js';

const BATCH = 1000;

/**
 * In-process batching cost without I/O: RxJS `bufferCount(1000)` against Sluice's
 * `microBatch({ maxCount: 1000, maxWaitMs: 60_000 })` over the same array of values (the wait
 * never fires: this isolates the per-value bookkeeping, including the batch timer it arms).
 * Rounds alternate raw and Sluice so drift on a shared machine hits both alike.
 */
export async function rxjsBufferBaseline(events: number, rounds = 5): Promise<BaselinePair> {
  const values = Array.from({ length: events }, (_, i) => ({ seq: i }));
  const raws: number[] = [];
  const sluices: number[] = [];
  for (let r = 0; r < rounds; r++) {
    raws.push(await rateOf(events, () => drain(from(values).pipe(bufferCount(BATCH)), events)));
    sluices.push(await rateOf(events, () => drain(from(values).pipe(microBatch({ maxCount: BATCH, maxWaitMs: 60_000 })), events)));
  }
  return pair({
    name: 'rxjs-batch',
    work: `batch ${events.toLocaleString('en')} values in groups of ${BATCH}, in process`,
    rawLabel: 'RxJS bufferCount',
    sluiceLabel: 'Sluice microBatch',
    raw: median(raws),
    sluice: median(sluices),
    events,
    rounds,
  });
}

function drain<T>(batches: Observable<T[]>, expected: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    batches.subscribe({
      next: (b) => (seen += b.length),
      error: reject,
      complete: () => (seen === expected ? resolve() : reject(new Error(`batched ${seen} of ${expected} values`))),
    });
  });
}
