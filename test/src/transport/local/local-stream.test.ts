import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LocalStream, type StoredMessage } from '../../../../src/transport/local/local-stream.js';

const numRuns = Number(process.env.PROP_RUNS ?? 200);

type Action = { kind: 'append'; subject: string; msgId: string | undefined; size: number } | { kind: 'advance'; ms: number };

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      subject: fc.constantFrom('s.a', 's.b', 's.c.d'),
      msgId: fc.option(fc.constantFrom('m1', 'm2', 'm3', 'm4'), { nil: undefined }),
      size: fc.integer({ min: 0, max: 20 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 300 }) }) },
);

/** The reference: a plain list, filtered on every read. Obviously right, and slow. */
class Model {
  messages: { seq: number; subject: string; size: number; time: number }[] = [];
  ids = new Map<string, { seq: number; time: number }>();
  lastSeq = 0;
  constructor(readonly limits: { windowMs: number; maxAgeMs: number; maxMessages: number; maxBytes: number }) {}
  append(now: number, subject: string, msgId: string | undefined, size: number): { seq: number; duplicate: boolean } {
    const seen = msgId === undefined ? undefined : this.ids.get(msgId);
    if (seen !== undefined && now - seen.time < this.limits.windowMs) return { seq: seen.seq, duplicate: true };
    const seq = ++this.lastSeq;
    this.messages.push({ seq, subject, size, time: now });
    if (msgId !== undefined && this.limits.windowMs > 0) this.ids.set(msgId, { seq, time: now });
    return { seq, duplicate: false };
  }
  kept(now: number): Model['messages'] {
    let kept = this.messages.filter((m) => this.limits.maxAgeMs === 0 || now - m.time < this.limits.maxAgeMs);
    while (kept.length > this.limits.maxMessages) kept = kept.slice(1);
    while (kept.reduce((n, m) => n + m.size, 0) > this.limits.maxBytes) kept = kept.slice(1);
    this.messages = kept; // discards are permanent, as in the stream
    return kept;
  }
}

function readAll(stream: LocalStream, filter?: string): StoredMessage[] {
  const out: StoredMessage[] = [];
  for (let seq = 1; ;) {
    const { message, nextSeq } = stream.next(seq, filter, 3);
    if (message !== undefined) out.push(message);
    else if (nextSeq > stream.state().lastSeq) return out;
    seq = nextSeq;
  }
}

describe('LocalStream', () => {
  it('matches the reference model for dedup, limits, state and reads after every step', () => {
    fc.assert(
      fc.property(
        fc.record({
          windowMs: fc.integer({ min: 0, max: 500 }),
          maxAgeMs: fc.constantFrom(0, 100, 400),
          maxMessages: fc.constantFrom(Infinity, 1, 3, 8),
          maxBytes: fc.constantFrom(Infinity, 30, 100),
        }),
        fc.array(actionArb, { maxLength: 60 }),
        (limits, actions) => {
          let now = 0;
          const stream = new LocalStream(
            {
              name: 'S',
              subjects: ['s.>'],
              duplicateWindowMs: limits.windowMs,
              maxAgeMs: limits.maxAgeMs,
              ...(limits.maxMessages !== Infinity ? { maxMessages: limits.maxMessages } : {}),
              ...(limits.maxBytes !== Infinity ? { maxBytes: limits.maxBytes } : {}),
            },
            () => now,
          );
          const model = new Model(limits);
          for (const action of actions) {
            if (action.kind === 'advance') {
              now += action.ms;
            } else {
              const headers: Record<string, string> = action.msgId === undefined ? {} : { 'Nats-Msg-Id': action.msgId };
              const ack = stream.append(action.subject, new Uint8Array(action.size), headers);
              expect(ack).toEqual({ stream: 'S', ...model.append(now, action.subject, action.msgId, action.size) });
            }
            const kept = model.kept(now);
            const first = kept[0]?.seq ?? (model.lastSeq === 0 ? 0 : model.lastSeq + 1);
            expect(stream.state()).toEqual({ messages: kept.length, firstSeq: first, lastSeq: model.lastSeq });
            expect(readAll(stream).map((m) => m.seq)).toEqual(kept.map((m) => m.seq));
            expect(readAll(stream, 's.*').map((m) => m.seq)).toEqual(kept.filter((m) => m.subject !== 's.c.d').map((m) => m.seq));
          }
        },
      ),
      { numRuns },
    );
  });

  it('stays correct across compaction of a long discarded prefix', () => {
    const stream = new LocalStream({ name: 'S', subjects: ['s.>'], maxMessages: 10 }, () => 0);
    for (let i = 0; i < 5000; i++) stream.append('s.a', new Uint8Array([i % 256]), {});
    expect(stream.state()).toEqual({ messages: 10, firstSeq: 4991, lastSeq: 5000 });
    expect(stream.get(4990)).toBeUndefined();
    expect(stream.get(4991)?.data[0]).toBe(4990 % 256);
    expect(readAll(stream).map((m) => m.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 4991 + i));
  });
});
