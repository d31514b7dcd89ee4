import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidSubjectError } from '../../../src/errors.js';
import { BatchTxn, TxnMisuseError } from '../../../src/exactly-once/batch-txn.js';
import { decodeOutbox } from '../../../src/exactly-once/outbox-codec.js';
import { NatsOrderedMessage } from '../../../src/transport/nats/nats-ordered-message.js';
import { openStateStore } from '../../../src/state/open-state-store.js';
import { MAX_STATE_KEY_BYTES, StateKeyTooLongError } from '../../../src/state/state-key.js';
import type { StateStore } from '../../../src/state/types.js';

let dir: string;
let store: StateStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-txn-'));
  store = openStateStore({ dir, topology: 't', noSync: true });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const msg = (seq: number): NatsOrderedMessage => new NatsOrderedMessage('in.a', new Uint8Array([seq]), undefined, 'IN', seq, 1_700_000_000_000);

describe('BatchTxn', () => {
  it('refuses a state key past MAX_STATE_KEY_BYTES at put/delete, not later in the commit of the whole batch', () => {
    const txn = new BatchTxn(store, 'IN', 1, 1);
    const fits = 'k'.repeat(MAX_STATE_KEY_BYTES);
    txn.put('ns', fits, 1);
    expect(() => txn.put('ns', fits + 'k', 1)).toThrow(StateKeyTooLongError);
    expect(() => txn.delete('ns', '€'.repeat(700))).toThrow(/a key of 2100 bytes is longer than the 1900 bytes/);
    store.transaction((w) => txn.writeTo(w));
    expect(store.get('ns', fits)).toBe(1); // the longest key the store takes, with its partition
    expect(txn.get('ns', 'x'.repeat(5_000))).toBeUndefined(); // a read of a key that cannot exist
  });

  it('reads committed state overlaid with its own writes; commits them in one transaction', () => {
    store.commit([
      { namespace: 'n', key: 'a', value: 1 },
      { namespace: 'n', key: 'b', value: 2 },
    ]);
    const txn = new BatchTxn(store, 'IN', 1, 3);
    txn.put('n', 'a', 10);
    txn.delete('n', 'b');
    txn.put('n', 'c', 30);
    expect([txn.get('n', 'a'), txn.get('n', 'b'), txn.get('n', 'c')]).toEqual([10, undefined, 30]);
    expect(store.get('n', 'a')).toBe(1);
    store.transaction((w) => txn.writeTo(w));
    expect([store.get('n', 'a'), store.get('n', 'b'), store.get('n', 'c')]).toEqual([10, undefined, 30]);
  });

  it('numbers outputs per input in emit order, so replayed batches yield the same ids', () => {
    const txn = new BatchTxn(store, 'IN', 5, 6);
    txn.emit(msg(5), 'out.x', new Uint8Array([1]));
    txn.emit(msg(6), 'out.y', new Uint8Array([2]), { 'Content-Type': 'application/json' });
    txn.emit(msg(5), 'out.z', new Uint8Array([3]));
    expect(txn.outputCount).toBe(3);
    const entries = decodeOutbox(txn.outboxBlob()!);
    expect(entries.map((o) => [o.seq, o.index, o.subject, [...o.data], o.headers])).toEqual([
      [5, 0, 'out.x', [1], undefined],
      [6, 0, 'out.y', [2], { 'Content-Type': 'application/json' }],
      [5, 1, 'out.z', [3], undefined],
    ]);
    expect(new BatchTxn(store, 'IN', 5, 6).outboxBlob()).toBeUndefined();
  });

  it('refuses outputs for inputs outside the batch, bad subjects, and writes after sealing', () => {
    const txn = new BatchTxn(store, 'IN', 5, 6);
    expect(() => txn.emit(msg(7), 'out.x', new Uint8Array())).toThrow(TxnMisuseError);
    expect(() => txn.emit(msg(5), 'out.*', new Uint8Array())).toThrow(InvalidSubjectError);
    expect(() => txn.emit(msg(5), 'out..x', new Uint8Array())).toThrow(InvalidSubjectError);
    expect(() => txn.emit(msg(5), 'out.x', new Uint8Array(), { 'Bad Name': 'v' })).toThrow(/not a valid NATS header/);
    expect(() => txn.emit(msg(5), 'out.x', new Uint8Array(), { ok: 'a\r\nb' })).toThrow(TxnMisuseError);
    expect(() => new BatchTxn(store, 'IN', 5, 6, 4).emit(msg(5), 'out.x', new Uint8Array(5))).toThrow(/exceeds the server's max_payload of 4 bytes/);
    txn.seal();
    expect(() => txn.put('n', 'a', 1)).toThrow(/already sealed/);
    expect(() => txn.afterCommit(() => undefined)).toThrow(TxnMisuseError);
  });

  it('runs after-commit callbacks in order and collects their errors', () => {
    const txn = new BatchTxn(store, 'IN', 1, 1);
    const calls: number[] = [];
    txn.afterCommit(() => calls.push(1));
    txn.afterCommit(() => {
      throw new Error('nope');
    });
    txn.afterCommit(() => calls.push(3));
    expect(txn.runAfterCommit().map((e) => e.message)).toEqual(['nope']);
    expect(calls).toEqual([1, 3]);
  });
});
