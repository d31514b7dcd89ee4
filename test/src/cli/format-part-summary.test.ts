import { describe, expect, it } from 'vitest';
import { formatPartSummary } from '../../../src/cli/format-part-summary.js';
import { PartCounters, type PartProvider, type PartReading } from '../../../src/observe/part-stats.js';

const part = (kind: PartProvider['kind'], name: string, reading: Partial<PartReading>): PartProvider => {
  const base = new PartCounters(kind, name).read();
  return { kind, name, read: () => ({ ...base, ...reading }) };
};

const NO_TOTALS = { received: {}, published: {}, deadLetters: 0 };

describe('formatPartSummary', () => {
  it('prints one aligned line per part (pipelines left out), with the fields that apply to it, then the totals', () => {
    const parts = [
      part('pipeline', 'pipeline 1', { out: 5 }),
      part('stream', 'stream SHOP_ORDERS', { in: 1_502, out: 1_502, unsettled: 12, deadLetters: 1 }),
      part('actor', 'actor order-status', { in: 1_500, out: 1_730, batches: 41, lastBatchSize: 12, actors: 212, outbox: 3, unsettled: 3, deadLetters: 2 }),
      part('durable-batch', 'durable-batch nightly', { in: 43, out: 1, batches: 1, lastBatchSize: 40, outbox: 0, detail: { open: 3 } }),
      part('sink', 'sink failed-one', { state: 'failed' }),
    ];
    const totals = {
      received: { 'shop.orders.web': 1_002, 'shop.orders.mobile': 500, 'sluice.actor.hybrid-orders.order-status.O-1.tell': 3 },
      // Sluice's own traffic (a hand-over per key, a dead letter) is not the topology's output.
      published: {
        'shop.order-status.paid': 1_730,
        'analytics.orders.batch': 1,
        'sluice.actor.hybrid-orders.order-status.O-1.tell': 3,
        'sluice.dlq.hybrid-orders': 1,
      },
      deadLetters: 1,
    };
    const { lines } = formatPartSummary({ topology: 'hybrid-orders', elapsedMs: 10_000, parts, totals, now: 1_000 });
    expect(lines).toEqual([
      'hybrid-orders 10s | stream SHOP_ORDERS    in 1,502 (150/s) out 1,502 | unsettled 12 | dlq 1',
      'hybrid-orders 10s | actor order-status    in 1,500 (150/s) out 1,730 | batches 41 (last 12) | actors 212 | unsettled 3 | outbox 3 | dlq 2',
      'hybrid-orders 10s | durable-batch nightly in 43 (4/s) out 1 | batches 1 (last 40) | open 3 | outbox 0 | dlq 0',
      'hybrid-orders 10s | sink failed-one       in 0 (0/s) out 0 | dlq 0 | FAILED',
      // Every dead letter: the runtime's and the ones engines write through their outbox.
      'hybrid-orders 10s | total in 1,502 (150/s) out 1,731 | dlq 3 | shop.order-status.paid 1,730 (100%), analytics.orders.batch 1 (0%)',
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
    const totals = () => ({ received: { a: count }, published: {}, deadLetters: 0 });
    const first = formatPartSummary({ topology: 't', elapsedMs: 1_000, parts: [stream, closed], totals: totals(), now: 50_000 });
    expect(first.lines).toEqual(['t 1s | stream A in 100 (100/s) out 100 | dlq 0', 't 1s | total in 100 (100/s) out 0 | dlq 0']);
    count = 400;
    const second = formatPartSummary({ topology: 't', elapsedMs: 3_000, parts: [stream, closed], totals: totals(), base: first.base, now: 52_000 });
    expect(second.lines).toEqual(['t 3s | stream A in 400 (150/s) out 400 | dlq 0', 't 3s | total in 400 (150/s) out 0 | dlq 0']);
  });

  it('at the end of a run: lines marked done, rates over the whole run, the busiest subjects first and the rest counted', () => {
    const published = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`out.s${i}`, (i + 1) * 10]));
    const { lines } = formatPartSummary({
      topology: 'order-feed',
      elapsedMs: 4_000,
      parts: [part('source', 'source in', { in: 40, out: 40 })],
      totals: { ...NO_TOTALS, published },
      now: 10_000,
      final: true,
    });
    expect(lines).toEqual([
      'order-feed done 4s | source in in 40 (10/s) out 40 | dlq 0',
      'order-feed done 4s | total in 0 (0/s) out 360 | dlq 0 | out.s7 80 (22%), out.s6 70 (19%), out.s5 60 (17%), out.s4 50 (14%), out.s3 40 (11%), out.s2 30 (8%), +2 more subjects',
    ]);
  });
});
