import { describe, expect, it } from 'vitest';
import { formatPartSummary } from '../../../src/cli/format-part-summary.js';
import { PartCounters, type PartProvider, type PartReading } from '../../../src/observe/part-stats.js';

const part = (kind: PartProvider['kind'], name: string, reading: Partial<PartReading>): PartProvider => {
  const base = new PartCounters(kind, name).read();
  return { kind, name, read: () => ({ ...base, ...reading }) };
};

describe('formatPartSummary', () => {
  it('prints one aligned line per part (pipelines left out), with the fields that apply to it', () => {
    const parts = [
      part('pipeline', 'pipeline 1', { out: 5 }),
      part('stream', 'stream SHOP_ORDERS', { in: 1_502, out: 1_502, unsettled: 12, deadLetters: 1 }),
      part('actor', 'actor order-status', { in: 1_500, out: 1_730, batches: 41, lastBatchSize: 12, actors: 212, outbox: 3, unsettled: 3 }),
      part('durable-batch', 'durable-batch nightly', { in: 43, out: 1, batches: 1, lastBatchSize: 40, outbox: 0, detail: { open: 3 } }),
      part('sink', 'sink failed-one', { state: 'failed' }),
    ];
    const { lines } = formatPartSummary('hybrid-orders', 10_000, parts, undefined, 1_000);
    expect(lines).toEqual([
      'hybrid-orders 10s | stream SHOP_ORDERS    in 1,502 (150/s) out 1,502 | unsettled 12 | dlq 1',
      'hybrid-orders 10s | actor order-status    in 1,500 (150/s) out 1,730 | batches 41 (last 12) | actors 212 | unsettled 3 | outbox 3 | dlq 0',
      'hybrid-orders 10s | durable-batch nightly in 43 (4/s) out 1 | batches 1 (last 40) | open 3 | outbox 0 | dlq 0',
      'hybrid-orders 10s | sink failed-one       in 0 (0/s) out 0 | dlq 0 | FAILED',
    ]);
  });

  it('gives rates since the previous summary, and leaves out a part that cannot be read', () => {
    let count = 100;
    const stream: PartProvider = {
      kind: 'stream',
      name: 'stream A',
      read: () => ({ ...new PartCounters('stream', 'stream A').read(), in: count, out: count }),
    };
    const closed: PartProvider = {
      kind: 'actor',
      name: 'actor gone',
      read: () => {
        throw new Error('store closed');
      },
    };
    const first = formatPartSummary('t', 1_000, [stream, closed], undefined, 50_000);
    expect(first.lines).toEqual(['t 1s | stream A in 100 (100/s) out 100 | dlq 0']);
    count = 400;
    const second = formatPartSummary('t', 3_000, [stream, closed], first.base, 52_000);
    expect(second.lines).toEqual(['t 3s | stream A in 400 (150/s) out 400 | dlq 0']);
  });
});
