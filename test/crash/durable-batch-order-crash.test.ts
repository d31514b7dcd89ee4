import { describe, expect, it } from 'vitest';
import { useNatsServer } from '../helpers/nats-server.js';
import { batchOrderProblems, isTrigger, perValue } from './topologies/durable-batch-order.js';
import { guaranteeViolations, runCrashRow, type CrashRow } from './topology-crash.js';

/*
 * Per-key order across crashes on the durable batch's hand-over path
 * (`t.durableBatch(..., { values: t.stream(...).pipe(map(...)) })`), row p's twin for
 * `t.durableBatch`: the processor is SIGKILLed 3 times with up to 256 inputs delivered but
 * unsettled; after each restart the stream source re-reads from its ack floor, so the batch's own
 * stream holds every value once and in stream order. Then
 * every value is in exactly one flushed chunk, every key's values increase within each batch and
 * across batches, and no batch spans a trigger. The ack wait is the default's 30 s, not the 2 s
 * of the other rows: a restarted child takes longer than 2 s to start, by which time JetStream
 * itself would redeliver the unsettled inputs first, so the re-read from the ack floor would go
 * untested. With `reReadUnackedWithinMs: 0` (param `reReadUnackedWithinMs`) a run fails only when
 * a kill lands between an input's delivery and its hand-over publish, with fewer than 256 inputs
 * unsettled (else the restarted consumer gets nothing new before the redelivery): 1 run in 5 did
 * (key k3 flushed n=513 after n=923). Reproduce a run with SLUICE_CRASH_SEED=<seed>.
 */

const server = useNatsServer();

export const DURABLE_BATCH_ORDER_ROW: CrashRow = {
  title: 'p2. stream → map → t.durableBatch (hand-over): per-key order across crashes',
  fixture: 'durable-batch-order.ts',
  guarantee: 'exactly-once',
  msgIds: 'group',
  inputs: 2000,
  kills: 3,
  ackWaitMs: 30_000,
  // The batch flushes from its own stream after the inputs are acknowledged: done when every value is out.
  complete: 'outputs',
  expect: (n) => (isTrigger(n) ? [] : ['out']),
  expand: perValue,
  payloadOk: (data, n) => (data as { n?: unknown }).n === n,
  checkOutputs: batchOrderProblems,
};

describe('per-key order through t.durableBatch under real crashes', () => {
  it(
    DURABLE_BATCH_ORDER_ROW.title,
    async () => {
      expect(guaranteeViolations(await runCrashRow(server(), DURABLE_BATCH_ORDER_ROW))).toEqual([]);
    },
    120_000,
  );
});
