import fc from 'fast-check';
import { VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { LocalTransport } from '../../../../src/transport/local/local-transport.js';
import type { StreamMessage } from '../../../../src/transport/transport.js';

const numRuns = Number(process.env.PROP_RUNS ?? 60);

type Action =
  | { kind: 'publish'; count: number }
  | { kind: 'settle'; pick: number; how: 'ack' | 'nak' | 'nakLater' | 'term' }
  | { kind: 'advance'; ms: number }
  | { kind: 'resubscribe' };

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant('publish' as const), count: fc.integer({ min: 1, max: 3 }) }),
  fc.record({
    kind: fc.constant('settle' as const),
    pick: fc.nat(),
    how: fc.constantFrom('ack' as const, 'nak' as const, 'nakLater' as const, 'term' as const),
  }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40_000 }) }),
  fc.constant({ kind: 'resubscribe' as const }),
);

function advance(scheduler: VirtualTimeScheduler, ms: number): void {
  scheduler.schedule(() => undefined, ms);
  scheduler.maxFrames = scheduler.now() + ms;
  scheduler.flush();
}

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

describe('LocalDurableConsumer (through LocalTransport)', () => {
  it('keeps maxInFlight, redelivers on time, never redelivers a settled message, and finally delivers everything', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1000, max: 30_000 }),
        fc.array(actionArb, { maxLength: 30 }),
        async (maxInFlight, ackWaitMs, actions) => {
          const scheduler = new VirtualTimeScheduler();
          const t = new LocalTransport({ scheduler, keepAlive: false });
          try {
            await t.ensureStream({ name: 'S', subjects: ['s.>'] });
            const latest = new Map<number, StreamMessage>();
            const counts = new Map<number, number>();
            const settled = new Set<number>();
            /** When each open message must next be delivered: ack wait after a delivery, or the nak delay. */
            const due = new Map<number, number>();
            /** Deliveries already acked, naked or termed: further calls on them are ignored, as on NATS. */
            const acted = new WeakSet<StreamMessage>();
            const violations: string[] = [];
            let published = 0;
            let highestFirst = 0;
            const onMessage = (m: StreamMessage): void => {
              if (settled.has(m.seq)) violations.push(`settled seq ${m.seq} delivered again`);
              const before = counts.get(m.seq) ?? 0;
              if (m.deliveryCount !== before + 1) violations.push(`seq ${m.seq}: deliveryCount ${m.deliveryCount} after ${before}`);
              if (before === 0) {
                if (m.seq <= highestFirst) violations.push(`first delivery of ${m.seq} after ${highestFirst}`);
                highestFirst = m.seq;
              }
              counts.set(m.seq, m.deliveryCount);
              due.set(m.seq, scheduler.now() + ackWaitMs);
              latest.set(m.seq, m);
              const open = [...counts.keys()].filter((s) => !settled.has(s)).length;
              if (open > maxInFlight) violations.push(`${open} unsettled > maxInFlight ${maxInFlight}`);
            };
            const consume = () => t.consume({ stream: 'S', durableName: 'd', maxInFlight, ackWaitMs }).subscribe(onMessage);
            let sub = consume();
            for (const action of actions) {
              if (action.kind === 'publish') {
                for (let i = 0; i < action.count; i++) await t.publishDurable('s.x', new Uint8Array([published++ % 256]));
              } else if (action.kind === 'advance') {
                advance(scheduler, action.ms);
              } else if (action.kind === 'resubscribe') {
                sub.unsubscribe();
                sub = consume();
              } else {
                const open = [...latest.values()].filter((m) => !settled.has(m.seq) && !acted.has(m));
                const m = open[action.pick % Math.max(open.length, 1)];
                if (m !== undefined) {
                  acted.add(m);
                  if (action.how === 'ack' || action.how === 'term') {
                    settled.add(m.seq);
                    due.delete(m.seq);
                    m[action.how]();
                  } else {
                    const delayMs = action.how === 'nakLater' ? ackWaitMs / 2 : 0;
                    due.set(m.seq, scheduler.now() + delayMs);
                    m.nak(delayMs === 0 ? undefined : delayMs);
                  }
                }
              }
              await settle();
              for (const [seq, at] of due) if (at <= scheduler.now()) violations.push(`seq ${seq} overdue since ${at}, now ${scheduler.now()}`);
              expect(violations).toEqual([]);
            }
            // Ack whatever arrives until the consumer is idle: everything published must be settled.
            for (let round = 0; round < published + 5 && settled.size < published; round++) {
              for (const m of latest.values()) {
                if (!settled.has(m.seq) && !acted.has(m)) {
                  acted.add(m);
                  settled.add(m.seq);
                  m.ack();
                }
              }
              await settle();
              advance(scheduler, ackWaitMs);
              await settle();
            }
            expect(violations).toEqual([]);
            expect(settled.size).toBe(published);
            sub.unsubscribe();
          } finally {
            await t.close();
          }
        },
      ),
      { numRuns },
    );
  });
});
