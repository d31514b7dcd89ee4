import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { decodeDeadLetter } from '../../../src/dead-letter/encode-dead-letter.js';
import { HEADERS } from '../../../src/envelope/envelope.js';
import { InvalidConfigError } from '../../../src/errors.js';
import { durableWindowProcessor, resolveWindowCut } from '../../../src/exactly-once/durable-window-processor.js';
import type { DurableLateRecord, DurableWindowAggregate, DurableWindowCut, DurableWindowResult } from '../../../src/exactly-once/durable-window-types.js';
import type { BatchProcessor } from '../../../src/exactly-once/types.js';
import type { StreamMessage } from '../../../src/transport/transport.js';
import { FakeStore, streamMessage, type FakeOutput } from '../actors/fake-txn.js';
import { windowModel, type ModelCut, type WindowInput } from './durable-window-model.js';

const SUBJECTS = { values: 'w.in', tick: 'w.tick', close: 'w.close' };
const ids: DurableWindowAggregate<{ id: string }, string[]> = {
  seed: () => [],
  add: (acc, item) => {
    acc.push(item.data.id);
    return acc;
  },
  merge: (a, b) => [...a, ...b],
};

function processorFor(cut: DurableWindowCut, aggregate: DurableWindowAggregate<{ id: string }, string[]> = ids): BatchProcessor {
  return durableWindowProcessor({
    name: 'w',
    cut: resolveWindowCut('test', cut, aggregate as DurableWindowAggregate<unknown, unknown>),
    aggregate,
    subjects: SUBJECTS,
    resultSubject: 'out.window',
    lateSubject: 'out.late',
    deadLetterSubject: 'out.dead',
    now: () => 0,
  });
}

function message(m: WindowInput, seq: number): StreamMessage {
  if (m.type === 'tick') return streamMessage({ subject: SUBJECTS.tick, seq, raw: new Uint8Array(0) });
  if (m.type === 'close') return streamMessage({ subject: SUBJECTS.close, seq, data: {}, headers: { [HEADERS.eventTime]: String(m.t) } });
  const headers: Record<string, string> = {
    [HEADERS.eventTime]: String(m.t),
    [HEADERS.contentType]: msgpackCodec.contentType,
    [HEADERS.originSubject]: 'orders.in',
  };
  if (m.key !== '') headers[HEADERS.key] = m.key;
  return streamMessage({ subject: SUBJECTS.values, seq, data: { id: m.id }, headers });
}

/** The outputs in the model's short form. */
function show(o: FakeOutput): string {
  if (o.subject === 'out.dead') return `dead ${(msgpackCodec.decode(decodeDeadLetter(o.data).payload) as { id: string }).id}`;
  const v = msgpackCodec.decode(o.data) as DurableWindowResult<string[]> | DurableLateRecord<{ id: string }>;
  if (v.type === 'late') return `late ${v.item.id} ${v.missed.map((s) => s.start).join(',')}`;
  return `window ${v.key ?? ''} ${v.start} ${v.end} ${v.value.join(',')}`;
}

describe('durableWindowProcessor', () => {
  it('tumbling per key: folds, closes on the watermark, reports a late event with the window it missed', async () => {
    const store = new FakeStore();
    const p = processorFor({ kind: 'tumbling', sizeMs: 10, allowedLatenessMs: 2 });
    const inputs: WindowInput[] = [
      { type: 'value', id: 'a', t: 1, key: 'x' },
      { type: 'value', id: 'b', t: 5, key: 'y' },
      { type: 'value', id: 'c', t: 11, key: 'x' },
      { type: 'value', id: 'd', t: 12, key: 'x' },
      { type: 'value', id: 'late', t: 3, key: 'x' },
      { type: 'close', t: 40 },
    ];
    const outputs = await store.run(
      p,
      inputs.map((m, i) => message(m, i + 1)),
    );
    expect(outputs.map(show)).toEqual(['window x 0 10 a', 'window y 0 10 b', 'late late 0', 'window x 10 20 c,d']);
    // Ids are the engine's `<seq>.<index>` of the input that closed the window.
    expect(outputs.map((o) => o.id)).toEqual(['IN.4.0', 'IN.4.1', 'IN.5.0', 'IN.6.0']);
    expect(msgpackCodec.decode(outputs[3]!.data)).toEqual({
      type: 'window',
      window: 'w',
      kind: 'tumbling',
      key: 'x',
      start: 10,
      end: 20,
      count: 2,
      value: ['c', 'd'],
      closedBy: 'close',
    });
    expect(msgpackCodec.decode(outputs[2]!.data)).toMatchObject({
      type: 'late',
      key: 'x',
      subject: 'orders.in',
      eventTime: 3,
      watermark: 12,
      missed: [{ start: 0, end: 10 }],
      item: { id: 'late' },
    });
    expect(store.keys('window.w').sort()).toEqual(['ends', 'meta']);
  });

  it('calendar months in London: a late-March event after the close is late, never in April; the result names the period', async () => {
    const store = new FakeStore();
    const p = processorFor({ kind: 'calendar', calendar: { unit: 'month', timeZone: 'Europe/London' } });
    const t = (s: string) => Date.parse(s);
    const inputs: WindowInput[] = [
      { type: 'value', id: 'm1', t: t('2026-03-31T22:30:00Z'), key: 'acc1' },
      { type: 'value', id: 'a1', t: t('2026-03-31T23:30:00Z'), key: 'acc1' },
      { type: 'close', t: t('2026-04-03T00:00:00+01:00') },
      { type: 'value', id: 'm2', t: t('2026-03-31T22:59:00Z'), key: 'acc1' },
      { type: 'close', t: t('2026-05-03T00:00:00+01:00') },
    ];
    const outputs = (
      await store.run(
        p,
        inputs.map((m, i) => message(m, i + 1)),
      )
    ).map((o) => msgpackCodec.decode(o.data) as Record<string, unknown>);
    expect(outputs.map((o) => [o['type'], o['period'] ?? o['missed'], o['value'] ?? (o['item'] as { id: string }).id])).toEqual([
      ['window', '2026-03', ['m1']],
      ['late', [{ start: t('2026-03-01T00:00:00Z'), end: t('2026-03-31T23:00:00Z') }], 'm2'],
      ['window', '2026-04', ['a1']],
    ]);
  });

  it('idle ticks move the watermark by idleAdvanceMs only while windows are open', async () => {
    const store = new FakeStore();
    const p = processorFor({ kind: 'tumbling', sizeMs: 10, watermark: { idleAdvanceMs: 4 } });
    expect(
      (await store.run(p, [message({ type: 'tick' }, 1), message({ type: 'value', id: 'a', t: 3, key: '' }, 2), message({ type: 'tick' }, 3)])).map(show),
    ).toEqual([]);
    expect((await store.run(p, [message({ type: 'tick' }, 4)])).map(show)).toEqual(['window  0 10 a']);
    expect(msgpackCodec.decode(store.outputs[0]!.data)).toMatchObject({ closedBy: 'idle' });
  });

  it('dead-letters an event past maxOpenWindows (BufferOverflowError) and one whose add throws; the rest go on', async () => {
    const store = new FakeStore();
    const throwing: DurableWindowAggregate<{ id: string }, string[]> = {
      ...ids,
      add: (acc, item) =>
        item.data.id === 'bad'
          ? (() => {
              throw new Error('bad item');
            })()
          : [...acc, item.data.id],
    };
    const p = processorFor({ kind: 'tumbling', sizeMs: 10, maxOpenWindows: 2 }, throwing);
    const outputs = await store.run(
      p,
      [
        { type: 'value', id: 'a', t: 1, key: 'x' },
        { type: 'value', id: 'b', t: 1, key: 'y' },
        { type: 'value', id: 'c', t: 1, key: 'z' },
        { type: 'value', id: 'bad', t: 2, key: 'x' },
        { type: 'close', t: 100 },
      ].map((m, i) => message(m as WindowInput, i + 1)),
    );
    expect(outputs.map(show)).toEqual(['dead c', 'dead bad', 'window x 0 10 a', 'window y 0 10 b']);
    expect(decodeDeadLetter(outputs[0]!.data)).toMatchObject({ operator: 'durableWindow:w', error: { name: 'BufferOverflowError' } });
    expect(decodeDeadLetter(outputs[1]!.data)).toMatchObject({ error: { message: 'bad item' } });
  });

  it('rejects bad configuration with the field and value', () => {
    expect(() => resolveWindowCut('durableWindow', { kind: 'hopping' as never }, ids as never)).toThrow(/'kind' must be .* got hopping/);
    expect(() => resolveWindowCut('durableWindow', { kind: 'tumbling', sizeMs: 10 }, undefined)).toThrow(/'aggregate' must be .*durable batch/);
    expect(() => resolveWindowCut('durableWindow', { kind: 'session', gapMs: 5 }, { seed: () => 0, add: (a: number) => a } as never)).toThrow(
      /aggregate.merge/,
    );
    expect(() => resolveWindowCut('durableWindow', { kind: 'sliding', sizeMs: 10, slideMs: 20 }, ids as never)).toThrow(InvalidConfigError);
    expect(() => resolveWindowCut('durableWindow', { kind: 'calendar', calendar: { unit: 'month', timeZone: 'Europe/Londres' } }, ids as never)).toThrow(
      /calendar.timeZone/,
    );
  });

  const cutArb = fc.record({
    kind: fc.constantFrom<ModelCut['kind']>('tumbling', 'sliding', 'session', 'calendar'),
    sizeMs: fc.constantFrom(10, 20),
    slideMs: fc.constantFrom(5, 10),
    gapMs: fc.constantFrom(3, 8),
    allowedLatenessMs: fc.constantFrom(0, 5),
    maxOutOfOrderMs: fc.constantFrom(0, 7),
    idleAdvanceMs: fc.constantFrom(4, 15),
    maxOpenWindows: fc.constantFrom(3, 1000),
  });
  const DAY = 86_400_000;
  const inputArb = (calendar: boolean) =>
    fc.oneof(
      {
        weight: 8,
        arbitrary: fc.record({
          type: fc.constant('value' as const),
          id: fc.constant(''),
          t: calendar ? fc.integer({ min: 0, max: 90 }).map((d) => Date.parse('2026-02-20T00:00:00Z') + (d * DAY) / 2) : fc.integer({ min: 0, max: 120 }),
          key: fc.constantFrom('', 'k1', 'k2', 'k3'),
        }),
      },
      { weight: 1, arbitrary: fc.constant({ type: 'tick' as const }) },
      {
        weight: 1,
        arbitrary: fc.record({
          type: fc.constant('close' as const),
          t: calendar ? fc.integer({ min: 0, max: 100 }).map((d) => Date.parse('2026-02-20T00:00:00Z') + (d * DAY) / 2) : fc.integer({ min: 0, max: 150 }),
        }),
      },
    );
  const scenario = cutArb.chain((cut) =>
    fc.record({
      cut: fc.constant(cut),
      inputs: fc.array(inputArb(cut.kind === 'calendar'), { maxLength: 60 }),
      // Batch sizes, and whether each batch crashes once before its commit; restarts make a new processor.
      batches: fc.array(fc.record({ size: fc.integer({ min: 1, max: 8 }), crash: fc.boolean(), restart: fc.boolean() }), { minLength: 60, maxLength: 60 }),
    }),
  );

  it('property: outputs (order and content) equal the reference model across batches, crashes before commit and restarts; no id twice', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ cut, inputs, batches }) => {
        const numbered = inputs.map((m, i): WindowInput => (m.type === 'value' ? { ...m, id: `e${i + 1}` } : m));
        const modelCut: ModelCut = {
          ...cut,
          slideMs: cut.kind === 'sliding' ? cut.slideMs : cut.sizeMs,
          calendar: { unit: 'month', timeZone: 'Europe/London' },
        };
        const real: DurableWindowCut = {
          ...cut,
          calendar: modelCut.calendar,
          slideMs: modelCut.slideMs,
          watermark: { maxOutOfOrderMs: cut.maxOutOfOrderMs, idleAdvanceMs: cut.idleAdvanceMs },
        };
        const store = new FakeStore();
        let p = processorFor(real);
        const messages = numbered.map((m, i) => message(m, i + 1));
        let at = 0;
        for (const b of batches) {
          if (at >= messages.length) break;
          const batch = messages.slice(at, at + b.size);
          if (b.crash) await p(batch, store.begin()); // processed, never committed: as a crash before the commit
          if (b.restart) p = processorFor(real);
          await store.run(p, batch);
          at += batch.length;
        }
        if (at < messages.length) await store.run(p, messages.slice(at));
        expect(store.outputs.map(show)).toEqual(windowModel(modelCut, numbered));
        expect(new Set(store.outputs.map((o) => o.id)).size).toBe(store.outputs.length);
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 200) },
    );
  });
});
