import { Observable } from 'rxjs';
import type { LocalStream } from './local-stream.js';
import { localStreamMessage } from './local-stream-message.js';
import type { StreamMessage } from '../transport.js';

/**
 * An ordered consumer of a {@link LocalStream}: every stored message from `startSeq` on (matching
 * `filterSubject`), in sequence order, then each new one as it is stored. Nothing is acked; the
 * caller keeps its own position. Delivery is asynchronous and at most `batch` messages per
 * event-loop turn, so a long backlog does not starve other work.
 *
 * Memory: nothing beyond the stream itself and a position.
 */
export function localOrderedConsume(
  stream: LocalStream,
  options: { startSeq: number; filterSubject: string | undefined; batch: number },
  onStop: (stop: () => void) => () => void,
): Observable<StreamMessage> {
  return new Observable<StreamMessage>((subscriber) => {
    let nextSeq = options.startSeq;
    let queued = false;
    let stopped = false;
    const schedule = (): void => {
      if (queued || stopped) return;
      queued = true;
      queueMicrotask(pump);
    };
    const pump = (): void => {
      queued = false;
      let work = 0;
      while (!stopped && work < options.batch) {
        work++;
        const { message, nextSeq: after } = stream.next(nextSeq, options.filterSubject, options.batch * 8);
        nextSeq = after;
        if (message !== undefined) {
          subscriber.next(localStreamMessage(stream.name, message, 1));
        } else if (stream.state().lastSeq < nextSeq) {
          return;
        }
      }
      if (!stopped) setImmediate(schedule);
    };
    const offAppend = stream.onAppend(schedule);
    const offStop = onStop(() => subscriber.complete());
    schedule();
    return () => {
      stopped = true;
      offAppend();
      offStop();
    };
  });
}
