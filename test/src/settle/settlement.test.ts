import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { currentSettlement, holdCurrent, withSettlement } from '../../../src/settle/settle-scope.js';
import { Settlement } from '../../../src/settle/settlement.js';

describe('Settlement', () => {
  it('settles once, when the creator and every holder have released', () => {
    const settled: Array<Error | undefined> = [];
    const s = new Settlement('S:1', true, (f) => settled.push(f));
    expect(s.hold()).toBe(true);
    s.release();
    expect(settled).toEqual([]);
    s.release();
    expect(settled).toEqual([undefined]);
    s.release();
    expect(settled).toEqual([undefined]);
    expect(s.hold()).toBe(false);
  });

  it('settles as failed with the first failure once all holds are released', () => {
    const settled: Array<Error | undefined> = [];
    const s = new Settlement('S:1', true, (f) => settled.push(f));
    s.hold();
    s.fail(new Error('first'));
    s.fail(new Error('second'));
    s.release();
    expect(settled).toEqual([]);
    s.release();
    expect(settled.map((e) => e?.message)).toEqual(['first']);
  });

  it('a join holds its members until it settles, and fails them all when it fails', () => {
    const log: string[] = [];
    const a = new Settlement('S:1', true, (f) => log.push(`a ${f?.message ?? 'ok'}`));
    const b = new Settlement('S:2', true, (f) => log.push(`b ${f?.message ?? 'ok'}`));
    const group = Settlement.join([a, b]);
    a.release();
    b.release();
    expect(log).toEqual([]);
    expect(group.key).toBe('S:1+2');
    expect(group.replayStable).toBe(false);
    group.fail(new Error('flush failed'));
    group.release();
    expect(log).toEqual(['a flush failed', 'b flush failed']);
  });

  it("passes the first failure's supervision ('resume' and the part, or 'retry') to its source, and from a join to its members", () => {
    const log: string[] = [];
    const record = (name: string) => (f: Error | undefined, o?: { resume: boolean; part?: string | undefined }) =>
      log.push(`${name} ${f?.message ?? 'ok'} ${o?.resume === true ? 'resume' : 'retry'} ${o?.part ?? '-'}`);
    const one = new Settlement('S:1', true, record('one'));
    one.fail(new Error('bad'), 'resume', 'pipeline 1');
    one.fail(new Error('later'), 'retry');
    one.release();
    const a = new Settlement('S:2', true, record('a'));
    const b = new Settlement('S:3', true, record('b'));
    const group = Settlement.join([a, b]);
    a.release();
    b.release();
    group.fail(new Error('batch bad'), 'resume', 'microBatchProcess');
    group.release();
    const plain = new Settlement('S:4', true, record('plain'));
    plain.fail(new Error('down'));
    plain.release();
    expect(log).toEqual(['one bad resume pipeline 1', 'a batch bad resume microBatchProcess', 'b batch bad resume microBatchProcess', 'plain down retry -']);
  });

  it('a join made with a recorded key is replay-stable; already-settled members are skipped', () => {
    const a = new Settlement('S:1', true, () => undefined);
    a.release();
    const b = new Settlement('S:2', true, () => undefined);
    const group = Settlement.join([a, b], 'g-2');
    expect(group.key).toBe('g-2');
    expect(group.replayStable).toBe(true);
    b.release();
    expect(b.settled).toBe(false);
    group.release();
    expect(b.settled).toBe(true);
  });

  it('numbers outputs per sink, so output ids are the same on every replay', () => {
    const s = new Settlement('S:1', true, () => undefined);
    const sinks = ['x', 'x', 'y', 'x', 'y', 'z', 'y'];
    expect(sinks.map((sink) => s.nextOutputIndex(sink))).toEqual([0, 1, 0, 2, 1, 0, 2]);
  });

  it('the scope is set only inside withSettlement, nests, and is restored after a throw', () => {
    const outer = new Settlement('S:1', true, () => undefined);
    const inner = new Settlement('S:2', true, () => undefined);
    expect(currentSettlement()).toBeUndefined();
    withSettlement(outer, () => {
      expect(currentSettlement()).toBe(outer);
      expect(() =>
        withSettlement(inner, () => {
          expect(currentSettlement()).toBe(inner);
          throw new Error('boom');
        }),
      ).toThrow('boom');
      expect(currentSettlement()).toBe(outer);
      withSettlement(undefined, () => expect(holdCurrent()).toBeUndefined());
    });
    expect(currentSettlement()).toBeUndefined();
  });
});

/*
 * The settle bookkeeping against a reference model. A simulated pipeline: each input is pushed
 * in its scope and either filtered out, sent straight to a sink (a publish awaiting its ack), or
 * added to a batch; a batch is cut at any time into a group whose output is one publish. Publish
 * acks arrive in any order, succeeding or failing. Checked after every step: an input is never
 * acknowledged while any publish it contributed to is outstanding; and at the end, once every
 * publish has answered and the open batch is cut, every input is settled exactly once — failed
 * exactly when some publish it contributed to failed.
 */
type Action = { kind: 'input'; route: 'filter' | 'sink' | 'batch' | 'sink+batch' } | { kind: 'cut' } | { kind: 'answer'; pick: number; ok: boolean };

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('input' as const),
      route: fc.constantFrom('filter' as const, 'sink' as const, 'batch' as const, 'sink+batch' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cut' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('answer' as const), pick: fc.nat(), ok: fc.boolean() }) },
);

describe('settle bookkeeping (property)', () => {
  it('nothing is acknowledged before its effects, nothing stays unacknowledged after them', () => {
    fc.assert(
      fc.property(fc.array(action, { maxLength: 80 }), (actions) => {
        const outcome = new Map<number, 'ok' | 'failed'>();
        const publishes: Array<{ inputs: number[]; held: Settlement | undefined }> = [];
        const failedInputs = new Set<number>();
        const outstanding = new Map<number, number>(); // input -> publishes outstanding
        let batch: Array<{ input: number; held: Settlement }> = [];
        let n = 0;

        const publish = (inputs: number[]): void => {
          publishes.push({ inputs, held: holdCurrent() });
          for (const i of inputs) outstanding.set(i, (outstanding.get(i) ?? 0) + 1);
        };
        const cut = (): void => {
          if (batch.length === 0) return;
          const members = batch;
          batch = [];
          const group = Settlement.join(members.map((m) => m.held));
          for (const m of members) m.held.release();
          withSettlement(group, () => publish(members.map((m) => m.input)));
          group.release();
        };
        const check = (): void => {
          for (const [input] of outcome) expect(outstanding.get(input) ?? 0, `input ${input} settled with publishes outstanding`).toBe(0);
        };

        for (const a of actions) {
          if (a.kind === 'input') {
            const input = ++n;
            const s = new Settlement(`S:${input}`, true, (f) => {
              expect(outcome.has(input), `input ${input} settled twice`).toBe(false);
              outcome.set(input, f === undefined ? 'ok' : 'failed');
            });
            withSettlement(s, () => {
              if (a.route === 'sink' || a.route === 'sink+batch') publish([input]);
              if (a.route === 'batch' || a.route === 'sink+batch') batch.push({ input, held: holdCurrent()! });
            });
            s.release();
          } else if (a.kind === 'cut') {
            cut();
          } else if (publishes.length > 0) {
            const [p] = publishes.splice(a.pick % publishes.length, 1);
            for (const i of p!.inputs) outstanding.set(i, outstanding.get(i)! - 1);
            if (!a.ok) {
              for (const i of p!.inputs) failedInputs.add(i);
              p!.held?.fail(new Error('publish failed'));
            }
            p!.held?.release();
          }
          check();
        }
        cut();
        while (publishes.length > 0) {
          const p = publishes.shift()!;
          for (const i of p.inputs) outstanding.set(i, outstanding.get(i)! - 1);
          p.held?.release();
          check();
        }
        expect(outcome.size).toBe(n);
        for (let i = 1; i <= n; i++) expect(outcome.get(i), `input ${i}`).toBe(failedInputs.has(i) ? 'failed' : 'ok');
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 300) },
    );
  });
});
