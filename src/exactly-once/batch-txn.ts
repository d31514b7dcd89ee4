import { InvalidSubjectError } from '../errors.js';
import { keyBytes, keyFits, MAX_STATE_KEY_BYTES, StateKeyTooLongError } from '../state/state-key.js';
import type { StateStore, StateWriter } from '../state/types.js';
import type { StreamMessage } from '../transport/transport.js';
import { OutboxWriter } from './outbox-writer.js';
import type { ExactlyOnceTxn } from './types.js';

const DELETED = Symbol('deleted');

function checkKey(namespace: string, key: string): void {
  if (!keyFits(key, MAX_STATE_KEY_BYTES)) throw new StateKeyTooLongError(namespace, keyBytes(key));
}
/** What {@link BatchTxn.own} returns for a key the batch did not write. */
export const NOT_WRITTEN: unique symbol = Symbol('not-written');
// A publish subject: dot-separated non-empty tokens, no whitespace, no wildcards.
const PUBLISH_SUBJECT = /^[^\s.*>]+(?:\.[^\s.*>]+)*$/;
// A header name: printable ASCII without ':' or spaces (what the NATS client accepts).
const HEADER_NAME = /^[!-9;-~]+$/;

/** A batch's writes lie outside the batch, or arrive after the batch was sealed. */
export class TxnMisuseError extends Error {
  override readonly name = 'TxnMisuseError';
}

/**
 * The transaction one micro-batch's `process` call writes through. Writes are buffered in memory
 * (reads see committed state overlaid with them); the engine applies them in its one LMDB
 * transaction. Outputs are numbered per input in emit order, which makes their ids deterministic.
 * After `process` settles the transaction is sealed: a late write (from a callback that outlived
 * `process`) throws instead of silently missing the commit.
 */
export class BatchTxn implements ExactlyOnceTxn {
  /** The batch's outputs, written into the outbox blob as they are emitted; undefined until the first. */
  private outbox: OutboxWriter | undefined;
  private readonly writes = new Map<string, Map<string, unknown>>();
  private readonly afterFns: (() => void)[] = [];
  private readonly perInput = new Map<number, number>();
  private lastEmitSeq = -1;
  private lastEmitIndex = -1;
  private sealed = false;

  constructor(
    /** Committed state as this batch must see it (the store, or the store overlaid with batches still committing). */
    private readonly store: Pick<StateStore, 'get'>,
    private readonly stream: string,
    private readonly firstSeq: number,
    private readonly lastSeq: number,
    /** The server's max_payload: a bigger output could never be published. */
    private readonly maxPayloadBytes = Infinity,
  ) {}

  /** A key past `MAX_STATE_KEY_BYTES` cannot have been stored: undefined, without asking LMDB (which throws). */
  get<V>(namespace: string, key: string): V | undefined {
    if (!keyFits(key, MAX_STATE_KEY_BYTES)) return undefined;
    const ns = this.writes.get(namespace);
    if (ns !== undefined && ns.has(key)) {
      const v = ns.get(key);
      return v === DELETED ? undefined : (v as V);
    }
    return this.store.get<V>(namespace, key);
  }

  /** This batch's own write of (namespace, key): the value, `undefined` if deleted, {@link NOT_WRITTEN} if untouched. */
  own(namespace: string, key: string): unknown {
    const ns = this.writes.get(namespace);
    if (ns === undefined || !ns.has(key)) return NOT_WRITTEN;
    const v = ns.get(key);
    return v === DELETED ? undefined : v;
  }

  /** @throws StateKeyTooLongError now, rather than LMDB in the commit of the whole batch. */
  put<V>(namespace: string, key: string, value: V): void {
    this.check();
    checkKey(namespace, key);
    this.ns(namespace).set(key, value);
  }

  /** @throws StateKeyTooLongError as {@link put} does. */
  delete(namespace: string, key: string): void {
    this.check();
    checkKey(namespace, key);
    this.ns(namespace).set(key, DELETED);
  }

  emit(input: StreamMessage, subject: string, data: Uint8Array, headers?: Readonly<Record<string, string>>): void {
    this.check();
    if (input.stream !== this.stream || input.seq < this.firstSeq || input.seq > this.lastSeq) {
      throw new TxnMisuseError(`emit: input ${input.stream}:${input.seq} is not in the batch ${this.stream}:${this.firstSeq}..${this.lastSeq}`);
    }
    if (!PUBLISH_SUBJECT.test(subject)) throw new InvalidSubjectError(subject, 'is not a valid publish subject (empty token, whitespace or wildcard)');
    // Checked now, not at publish: an output NATS rejects would fail every re-publish of the outbox.
    if (data.length > this.maxPayloadBytes)
      throw new TxnMisuseError(`emit: output of ${data.length} bytes for '${subject}' exceeds the server's max_payload of ${this.maxPayloadBytes} bytes`);
    if (headers !== undefined) {
      for (const k in headers) {
        if (!HEADER_NAME.test(k) || /[\r\n]/.test(headers[k]!))
          throw new TxnMisuseError(`emit: header ${JSON.stringify(k)}: ${JSON.stringify(headers[k])} is not a valid NATS header`);
      }
    }
    // Most processors emit for one input at a time: count those without the map.
    let index: number;
    if (input.seq === this.lastEmitSeq) {
      index = ++this.lastEmitIndex;
    } else {
      if (this.lastEmitSeq >= 0) this.perInput.set(this.lastEmitSeq, this.lastEmitIndex + 1);
      index = this.perInput.get(input.seq) ?? 0;
      this.lastEmitSeq = input.seq;
      this.lastEmitIndex = index;
    }
    (this.outbox ??= new OutboxWriter()).add(input.seq, index, subject, data, headers);
  }

  /** Outputs emitted so far. */
  get outputCount(): number {
    return this.outbox?.count ?? 0;
  }

  /** The outbox blob of the batch's outputs (see outbox-codec), undefined when there are none; call once, after `seal`. */
  outboxBlob(): Uint8Array | undefined {
    return this.outbox?.finish();
  }

  afterCommit(fn: () => void): void {
    this.check();
    this.afterFns.push(fn);
  }

  /** Ends the batch's write phase; later writes throw. */
  seal(): void {
    this.sealed = true;
  }

  /** Applies the buffered state writes; called inside the engine's LMDB transaction. */
  writeTo(w: StateWriter): void {
    for (const [namespace, entries] of this.writes) {
      // Not sorted: the store's keys are (partition, key), so string order would not follow its
      // B-tree anyway, and sorting a 1000-key batch cost ~0.5 µs per write.
      for (const [key, v] of entries) {
        if (v === DELETED) w.delete(namespace, key);
        else w.put(namespace, key, v);
      }
    }
  }

  /** Calls `fn` for every buffered state write (`undefined` value = deleted). */
  forEachWrite(fn: (namespace: string, key: string, value: unknown) => void): void {
    for (const [namespace, entries] of this.writes) for (const [key, v] of entries) fn(namespace, key, v === DELETED ? undefined : v);
  }

  /** Runs the after-commit callbacks; returns the errors they threw. */
  runAfterCommit(): Error[] {
    const errors: Error[] = [];
    for (const fn of this.afterFns) {
      try {
        fn();
      } catch (err) {
        errors.push(err instanceof Error ? err : new Error(String(err)));
      }
    }
    return errors;
  }

  private ns(namespace: string): Map<string, unknown> {
    let m = this.writes.get(namespace);
    if (m === undefined) {
      m = new Map();
      this.writes.set(namespace, m);
    }
    return m;
  }

  private check(): void {
    if (this.sealed)
      throw new TxnMisuseError(`the transaction of batch ${this.stream}:${this.firstSeq}..${this.lastSeq} is already sealed (write after process settled)`);
  }
}
