import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { operatorCounters, whileBuilding } from '../../../src/observe/operator-stats.js';
import { PartCounters } from '../../../src/observe/part-stats.js';
import { INBOX_SUBJECTS, MAX_TRACKED_SUBJECTS, OTHER_SUBJECTS, RuntimeStats } from '../../../src/observe/runtime-stats.js';

describe('RuntimeStats', () => {
  it('counts per subject and sums by pattern', () => {
    const s = new RuntimeStats();
    s.recordReceived('shop.orders.web', 2);
    s.recordReceived('shop.orders.store');
    s.recordPublished('shop.fulfilment.priority');
    s.recordDeadLetter();
    expect(s.total('received', 'shop.orders.*')).toBe(3);
    expect(s.total('received')).toBe(3);
    expect(s.total('published', 'shop.orders.*')).toBe(0);
    expect(s.snapshot()).toEqual({
      received: { 'shop.orders.web': 2, 'shop.orders.store': 1 },
      published: { 'shop.fulfilment.priority': 1 },
      deadLetters: 1,
      unsettled: 0,
      unsettledOutputs: 0,
      connection: { connected: true, disconnects: 0, reconnects: 0, disconnectedMs: 0 },
    });
  });

  it('counts replies to request inboxes (_INBOX.<unique>) under one key', () => {
    const s = new RuntimeStats();
    for (let i = 0; i < 5; i++) s.recordPublished(`_INBOX.abc${i}.${i}`);
    s.recordPublished('fraud.checked');
    expect(s.snapshot().published).toEqual({ [INBOX_SUBJECTS]: 5, 'fraud.checked': 1 });
    expect(s.total('published', '_INBOX.>')).toBe(5);
  });

  it('property: memory stays bounded and no count is lost, whatever the subjects', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 1, max: 5 })), { maxLength: 3000 }), (events) => {
        const s = new RuntimeStats();
        for (const [id, n] of events) s.recordReceived(`orders.${id}`, n);
        const snap = s.snapshot().received;
        expect(Object.keys(snap).length).toBeLessThanOrEqual(MAX_TRACKED_SUBJECTS + 1);
        expect(s.total('received')).toBe(events.reduce((sum, [, n]) => sum + n, 0));
        if (Object.keys(snap).length <= MAX_TRACKED_SUBJECTS) expect(snap[OTHER_SUBJECTS]).toBeUndefined();
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 30) },
    );
  });

  it('parts: registered in order, a taken name gets #2, read on demand', () => {
    const s = new RuntimeStats();
    const a = new PartCounters('sink', 'sink out');
    const b = new PartCounters('sink', 'sink out');
    expect([s.registerPart(a), s.registerPart(b), s.registerPart(new PartCounters('sink', 'sink out'))]).toEqual(['sink out', 'sink out #2', 'sink out #3']);
    b.in = 5;
    b.batch(3);
    b.batch(7);
    b.batch(2);
    expect(s.parts().map((p) => p.name)).toEqual(['sink out', 'sink out #2', 'sink out #3']);
    expect(s.parts()[1]!.read()).toMatchObject({ in: 5, batches: 3, lastBatchSize: 2, maxBatchSize: 7, state: 'running' });
  });

  it('operator counters report to the topology being built, and to nobody outside a build', () => {
    const s = new RuntimeStats();
    const inside = whileBuilding(s, () => operatorCounters('microBatch'));
    const outside = operatorCounters('microBatch');
    inside.in = 2;
    outside.in = 9;
    expect(s.parts().map((p) => [p.kind, p.name, p.read().in])).toEqual([['operator', 'microBatch', 2]]);
  });
  it('receivedCount hands out the counter recordReceived bumps, within the same bounds', () => {
    const stats = new RuntimeStats();
    const count = stats.receivedCount('orders.created');
    count.n += 2;
    stats.recordReceived('orders.created');
    expect(stats.receivedCount('orders.created')).toBe(count);
    expect(stats.snapshot().received).toEqual({ 'orders.created': 3 });
    expect(stats.total('received', 'orders.>')).toBe(3);
    stats.receivedCount('_INBOX.abc').n++;
    expect(stats.snapshot().received[INBOX_SUBJECTS]).toBe(1);
  });
});
