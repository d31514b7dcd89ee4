import { from, Observable, type ObservableInput, type Subscription } from 'rxjs';
import { BufferOverflowError } from '../../src/errors.js';
import type { SealedSegment } from '../batch-buffer.js';
import type { Batch } from '../batch-until.js';
import { requireInt } from './batch-validate.js';

/** Wraps a sealed buffer segment as the {@link Batch} that `batchUntil` emits. */
export function makeBatch<T>(name: string, reason: string, segment: SealedSegment<T>): Batch<T> {
  const chunks = (size: number): Iterable<readonly T[]> => {
    requireInt('batch.chunks', 'size', size, 1);
    return {
      *[Symbol.iterator]() {
        for (let from = 0; from < segment.count; from += size) {
          const chunk = segment.read(from, size);
          if (chunk.length === 0) return;
          yield chunk;
        }
      },
    };
  };
  return {
    batchId: `${name}:${segment.seq}`,
    name,
    seq: segment.seq,
    reason,
    count: segment.count,
    firstSeq: segment.firstSeq,
    lastSeq: segment.lastSeq,
    chunks,
    processChunks: <R>(size: number, work: (chunk: readonly T[], index: number) => ObservableInput<R>) =>
      new Observable<R>((subscriber) => {
        const iterator = chunks(size)[Symbol.iterator]();
        let index = 0;
        let inner: Subscription | undefined;
        let looping = false;
        let wanted = false;
        // Pull-driven: the next chunk is read only after the previous work completed, so at most
        // one chunk is held (`from(iterable).pipe(concatMap(...))` would read them all at once).
        // A loop, not recursion, so work that completes synchronously does not grow the stack.
        const pull = (): void => {
          wanted = true;
          if (looping) return;
          looping = true;
          while (wanted && !subscriber.closed) {
            wanted = false;
            try {
              const step = iterator.next();
              if (step.done === true) {
                subscriber.complete();
                break;
              }
              inner = from(work(step.value, index++)).subscribe({
                next: (r) => subscriber.next(r),
                error: (err) => subscriber.error(err),
                complete: pull,
              });
            } catch (err) {
              subscriber.error(err);
            }
          }
          looping = false;
        };
        pull();
        return () => inner?.unsubscribe();
      }),
    items: (maxCount = 10_000) => {
      if (segment.count > maxCount) {
        throw new BufferOverflowError('batch.items', maxCount, `batch '${name}:${segment.seq}' has ${segment.count} values; read it with chunks() or processChunks()`);
      }
      return segment.read(0, segment.count);
    },
    release: () => segment.release(),
  };
}
