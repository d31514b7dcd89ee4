import type { DeadLetterRecord } from './dead-letter-record.js';

/**
 * Publishes `record` to the dead letters of the topology being run. Call it in the scope of the
 * input's settlement: the input then settles only once the record is stored (and fails, for a
 * retry, when it cannot be). `msgId`, for an input whose position names it on every re-read,
 * makes the record of an input dead-lettered again after a crash a duplicate the stream drops.
 */
export type PublishDeadLetter = (record: DeadLetterRecord, msgId?: string) => void;

// Sources built without the context (`poll`) are plain functions called while a builder runs,
// so the topology being built is known then and only then (as operator-stats' registry).
let building: PublishDeadLetter | undefined;

/** Runs a topology builder with `publish` as where the sources it builds send what they give up on. */
export function withDeadLetters<T>(publish: PublishDeadLetter, build: () => T): T {
  const outer = building;
  building = publish;
  try {
    return build();
  } finally {
    building = outer;
  }
}

/**
 * The dead letters of the topology being built, for a source to capture when it is created;
 * undefined outside a builder run by the runtime (a test, a plain RxJS chain, `describe`).
 */
export function topologyDeadLetters(): PublishDeadLetter | undefined {
  return building;
}
