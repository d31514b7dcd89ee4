import fc from 'fast-check';
import { filter, map, NEVER, of, timer, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/errors.js';
import { markSource, traceSources } from '../../src/observe/lineage.js';
import { holdCurrent } from '../../src/settle/settle-scope.js';
import type { Settlement } from '../../src/settle/settlement.js';
import { window, type WindowConfig, type WindowOutput } from '../../operators/window.js';
import { SettleLog, slowSink } from '../helpers/settle-log.js';

interface Ev {
  readonly id: string;
  readonly eventTime: number;
  readonly k?: string;
}
const ev = (id: string, eventTime: number, k?: string): Ev => ({ id, eventTime, k });
const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const byId = (e: Ev) => e.id;

/** Runs `events` (a marble over `values`) through `window(config)` and `downstream`, each event in its own settlement. */
function settleTimes(
  marble: string,
  values: Record<string, Ev>,
  config: WindowConfig<Ev>,
  downstream: (o: Observable<WindowOutput<Ev>>) => Observable<unknown>,
  unsubscribeAt?: number,
): Record<string, string> {
  const ts = scheduler();
  const log = new SettleLog(() => ts.now());
  ts.run(({ hot, flush }) => {
    const sub = downstream(hot(marble, values).pipe(log.inputs(byId), window(config))).subscribe({ error: () => undefined });
    if (unsubscribeAt !== undefined) ts.schedule(() => sub.unsubscribe(), unsubscribeAt);
    flush();
  });
  expect(log.settledTwice()).toEqual([]);
  return log.summary();
}

describe('window settles its inputs', () => {
  const tumbling: WindowConfig<Ev> = { kind: 'tumbling', sizeMs: 10 };

  it('holds each event until its window is emitted and the emission’s effects are complete', () => {
    const v = { a: ev('a', 1), b: ev('b', 9), c: ev('c', 12), d: ev('d', 25) };
    // [0,10) closes when c arrives (frame 4), [10,20) when d does (6), [20,30) on completion (8);
    // the sink takes 5 frames per window.
    expect(settleTimes('-ab-c-d-|', v, tumbling, (o) => o.pipe(slowSink(() => timer(5))))).toEqual({
      a: 'acked@9',
      b: 'acked@9',
      c: 'acked@11',
      d: 'acked@13',
    });
    // with nothing downstream that holds, an event settles when its window is emitted
    expect(settleTimes('-ab-c-d-|', v, tumbling, (o) => o)).toEqual({ a: 'acked@4', b: 'acked@4', c: 'acked@6', d: 'acked@8' });
  });

  it('sliding: an event settles after the last of its windows', () => {
    // a (7) is in [0,10) and [5,15): b (12) closes [0,10) at frame 3 (its sink is done at 6), c
    // (20) closes [5,15) at 6 (done at 9). b (12) is in [5,15) and [10,20), both done at 9.
    const v = { a: ev('a', 7), b: ev('b', 12), c: ev('c', 20) };
    const cfg: WindowConfig<Ev> = { kind: 'sliding', sizeMs: 10, slideMs: 5 };
    const out = settleTimes('-a-b--c-----', v, cfg, (o) => o.pipe(slowSink(() => timer(3))));
    expect(out).toEqual({ a: 'acked@9', b: 'acked@9' });
  });

  it('session: events of merged sessions settle with the merged window', () => {
    const v = { a: ev('a', 0), b: ev('b', 15), c: ev('c', 8) };
    const cfg: WindowConfig<Ev> = { kind: 'session', gapMs: 10, watermark: { maxOutOfOrderMs: 100 } };
    expect(settleTimes('-abc-|', v, cfg, (o) => o.pipe(slowSink(() => timer(2))))).toEqual({ a: 'acked@7', b: 'acked@7', c: 'acked@7' });
  });

  it('a late event is emitted in its own input’s scope: it settles with what is done with it', () => {
    const v = { a: ev('a', 1), b: ev('b', 20), c: ev('c', 3) };
    // c is late for [0,10): a sink holding the late output holds c; dropping it settles c at once.
    expect(settleTimes('-ab-c-', v, tumbling, (o) => o.pipe(slowSink(() => timer(4))))).toEqual({ a: 'acked@6', c: 'acked@8' });
    expect(settleTimes('-ab-c-', v, tumbling, (o) => o.pipe(filter((x) => x.type === 'window')))).toEqual({ a: 'acked@2', c: 'acked@4' });
  });

  it('a failed emission fails every event of the window; windows never emitted fail theirs', () => {
    const v = { a: ev('a', 1), b: ev('b', 9), c: ev('c', 12), d: ev('d', 14) };
    const failing = (o: Observable<WindowOutput<Ev>>) =>
      o.pipe(
        slowSink(() =>
          timer(2).pipe(
            map(() => {
              throw new Error('publish failed');
            }),
          ),
        ),
      );
    expect(settleTimes('-abc-d---', v, tumbling, failing)).toEqual({ a: 'failed@5', b: 'failed@5' });
    expect(settleTimes('-abc-d---', v, tumbling, (o) => o, 7)).toEqual({ a: 'acked@3', b: 'acked@3', c: 'failed@7', d: 'failed@7' });
    expect(settleTimes('-abc-d-#', v, tumbling, (o) => o)).toEqual({ a: 'acked@3', b: 'acked@3', c: 'failed@7', d: 'failed@7' });
  });

  it('on a settling source, idleAdvanceMs is required (held windows could otherwise stall the stream for good)', () => {
    const stream$ = markSource(NEVER as Observable<Ev>, { kind: 'stream', stream: 'SALES', subject: 'sales.>', ordered: false, maxUnsettled: 1000 });
    expect(() => stream$.pipe(window(tumbling))).toThrow(InvalidConfigError);
    expect(() => stream$.pipe(window(tumbling))).toThrow(/idleAdvanceMs.*'SALES'/);
    const ok = stream$.pipe(window<Ev>({ ...tumbling, watermark: { idleAdvanceMs: 1_000 } }));
    expect(traceSources(ok).stages).toEqual([{ name: 'window:tumbling', effect: 'groups' }]);
    // a core source is not held: no requirement
    expect(() => of(ev('a', 1)).pipe(window(tumbling))).not.toThrow();
  });
});

/*
 * Random events through random windows; the downstream holds every output and answers later in
 * any order, succeeding or failing. Checked after every answer: an event is settled exactly when
 * every output carrying it (each window holding it, its late output) has been answered, and as
 * failed exactly when one of those failed.
 */
describe('window settlement (property)', () => {
  it('settles each event once, after all outputs carrying it, failed iff one failed', () => {
    const eventsArb = fc.array(fc.record({ t: fc.integer({ min: 0, max: 100 }), k: fc.constantFrom('a', 'b') }), { maxLength: 30 });
    const kindArb = fc.constantFrom<WindowConfig<Ev>['kind']>('tumbling', 'sliding', 'session');
    fc.assert(
      fc.property(
        eventsArb,
        kindArb,
        fc.integer({ min: 0, max: 15 }),
        fc.array(fc.tuple(fc.nat(), fc.boolean()), { maxLength: 200 }),
        (raw, kind, outOfOrderMs, answers) => {
          const events = raw.map((e, i) => ev(String(i), e.t, e.k));
          const cfg: WindowConfig<Ev> = kind === 'session' ? { kind, gapMs: 7 } : { kind, sizeMs: 10, slideMs: kind === 'sliding' ? 5 : undefined };
          const log = new SettleLog();
          const outputs: Array<{ ids: string[]; held: Settlement | undefined }> = [];
          of(...events)
            .pipe(log.inputs(byId), window<Ev>({ ...cfg, keyOf: (e) => e.k ?? '', watermark: { maxOutOfOrderMs: outOfOrderMs } }))
            .subscribe((o) => outputs.push({ ids: o.type === 'window' ? o.value.map(byId) : [o.item.id], held: holdCurrent() }));
          const open = new Map<string, number>();
          const failed = new Set<string>();
          for (const o of outputs) for (const id of o.ids) open.set(id, (open.get(id) ?? 0) + 1);
          const check = () => {
            for (const e of events) {
              const state = log.state(e.id);
              if ((open.get(e.id) ?? 0) > 0) expect(state, e.id).toBe('held');
              else expect(state, e.id).toBe(failed.has(e.id) ? 'failed' : 'acked');
            }
          };
          check();
          const answer = (i: number, ok: boolean) => {
            const [o] = outputs.splice(i, 1);
            for (const id of o!.ids) open.set(id, open.get(id)! - 1);
            if (!ok) {
              for (const id of o!.ids) failed.add(id);
              o!.held?.fail(new Error('publish failed'));
            }
            o!.held?.release();
            check();
          };
          for (const [pick, ok] of answers) if (outputs.length > 0) answer(pick % outputs.length, ok);
          while (outputs.length > 0) answer(0, true);
          expect(log.settledTwice()).toEqual([]);
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS ?? 200) },
    );
  });
});
