import { Subject, takeUntil, type Observable, type Observer, type Subscriber } from 'rxjs';

/**
 * Subscribes `observer` to `source` so that closing `downstream` closes the upstream at once —
 * even while a synchronous source is still inside its emission loop. A plain
 * `source.subscribe(observer)` inside `new Observable` returns its Subscription only after such a
 * loop ends, so `take(3)` downstream could not stop it; a chain built with `pipe()` links each
 * subscriber to the next, and `takeUntil` is the public way to reach into that chain.
 * `observer.complete` is not called when the stop came from downstream.
 */
export function subscribeLinked<T>(source: Observable<T>, downstream: Subscriber<unknown>, observer: Observer<T>): void {
  const stop = new Subject<void>();
  let stopped = false;
  downstream.add(() => {
    stopped = true;
    stop.next();
  });
  if (downstream.closed) return;
  downstream.add(
    source.pipe(takeUntil(stop)).subscribe({
      next: (value) => observer.next(value),
      error: (err: unknown) => observer.error(err),
      complete: () => {
        if (!stopped) observer.complete();
      },
    }),
  );
}
