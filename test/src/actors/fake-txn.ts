import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { headers, type MsgHdrs } from '@nats-io/nats-core';
import { NatsOrderedMessage } from '../../../src/transport/nats/nats-ordered-message.js';
import type { BatchProcessor, ExactlyOnceTxn } from '../../../src/exactly-once/types.js';
import type { StreamMessage } from '../../../src/transport/transport.js';

/** An output as the engine would publish it, with its deterministic id. */
export interface FakeOutput {
  id: string;
  subject: string;
  data: Uint8Array;
  headers: Readonly<Record<string, string>>;
}

/**
 * An in-memory stand-in for the exactly-once engine's store and transaction, for unit tests of
 * processors: values are cloned on put and get (as LMDB encodes and decodes them), nothing is
 * visible outside a transaction until `commit`, and outputs get the `<seq>.<index>` ids the real
 * engine derives.
 */
export class FakeStore {
  readonly committed = new Map<string, Map<string, unknown>>();
  readonly outputs: FakeOutput[] = [];
  afterCommitSupported = true;

  begin(): FakeTxn {
    return new FakeTxn(this);
  }

  read<V>(namespace: string, key: string): V | undefined {
    const v = this.committed.get(namespace)?.get(key);
    return v === undefined ? undefined : (structuredClone(v) as V);
  }

  keys(namespace: string): string[] {
    return [...(this.committed.get(namespace)?.keys() ?? [])];
  }

  /** Runs one batch and commits it; returns the outputs it published. */
  async run(process: BatchProcessor, batch: readonly StreamMessage[]): Promise<FakeOutput[]> {
    const txn = this.begin();
    await process(batch, this.afterCommitSupported ? txn : txn.withoutAfterCommit());
    return txn.commit();
  }

  decodedOutputs(subject?: string): unknown[] {
    return this.outputs.filter((o) => subject === undefined || o.subject === subject).map((o) => msgpackCodec.decode(o.data));
  }
}

export class FakeTxn implements ExactlyOnceTxn {
  private readonly writes = new Map<string, Map<string, { v: unknown } | undefined>>();
  private readonly pending: FakeOutput[] = [];
  private readonly perInput = new Map<string, number>();
  private readonly callbacks: (() => void)[] = [];
  failOnEmit = false;

  constructor(private readonly store: FakeStore) {}

  get<V>(namespace: string, key: string): V | undefined {
    const ns = this.writes.get(namespace);
    if (ns?.has(key) === true) {
      const w = ns.get(key);
      return w === undefined ? undefined : (structuredClone(w.v) as V);
    }
    return this.store.read<V>(namespace, key);
  }

  put<V>(namespace: string, key: string, value: V): void {
    this.ns(namespace).set(key, { v: structuredClone(value) });
  }

  delete(namespace: string, key: string): void {
    this.ns(namespace).set(key, undefined);
  }

  emit(input: StreamMessage, subject: string, data: Uint8Array, headers?: Readonly<Record<string, string>>): void {
    if (this.failOnEmit) throw new Error('emit failed (test)');
    const base = `${input.stream}.${input.seq}`;
    const index = this.perInput.get(base) ?? 0;
    this.perInput.set(base, index + 1);
    this.pending.push({ id: `${base}.${index}`, subject, data, headers: headers ?? {} });
  }

  afterCommit(fn: () => void): void {
    this.callbacks.push(fn);
  }

  withoutAfterCommit(): ExactlyOnceTxn {
    return { get: (n, k) => this.get(n, k), put: (n, k, v) => this.put(n, k, v), delete: (n, k) => this.delete(n, k), emit: (...a) => this.emit(...a) };
  }

  commit(): FakeOutput[] {
    for (const [namespace, writes] of this.writes) {
      let target = this.store.committed.get(namespace);
      if (target === undefined) this.store.committed.set(namespace, (target = new Map()));
      for (const [key, w] of writes) {
        if (w === undefined) target.delete(key);
        else target.set(key, w.v);
      }
    }
    this.store.outputs.push(...this.pending);
    for (const fn of this.callbacks) fn();
    return this.pending;
  }

  private ns(namespace: string): Map<string, { v: unknown } | undefined> {
    let ns = this.writes.get(namespace);
    if (ns === undefined) this.writes.set(namespace, (ns = new Map()));
    return ns;
  }
}

/** A stream message exactly as the engine delivers it, payload msgpack-encoded unless `raw` is given. */
export function streamMessage(init: {
  subject: string;
  seq: number;
  data?: unknown;
  raw?: Uint8Array;
  stream?: string;
  headers?: Record<string, string>;
}): StreamMessage {
  const data = init.raw ?? msgpackCodec.encode(init.data ?? null);
  let hdrs: MsgHdrs | undefined;
  for (const [k, v] of Object.entries(init.headers ?? {})) (hdrs ??= headers()).set(k, v);
  // The engine's own message class: its fields are getters, which object spreads would lose.
  return new NatsOrderedMessage(init.subject, data, hdrs, init.stream ?? 'IN', init.seq, 0);
}
