import fc from 'fast-check';
import { from, map, NEVER, take, EMPTY, throwError } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Envelope } from '../../src/envelope/envelope.js';
import { InvalidConfigError } from '../../src/errors.js';
import { subjectMatches } from '../../src/transport/subject.js';
import type { DeadLettered } from '../../src/dead-letter/dead-letter-record.js';
import { route, type RouteConfig, type Routed } from '../../operators/route.js';
import { env, testScheduler, endlessSource } from './realtime-fixtures.js';

type Out = Routed<unknown> | DeadLettered<unknown>;
const show = (o: Out): string => (o.kind === 'routed' ? `${o.to}<${o.envelope.id}` : `dlq:${o.record.error.name}<${o.envelope.id}`);

const orders = {
  big: env('shop.orders.eu', { total: 20_000 }, 'big'),
  small: env('shop.orders.eu', { total: 10 }, 'small'),
  express: env('shop.orders.us.express', { total: 5 }, 'express'),
  other: env('crm.contacts', { total: 0 }, 'other'),
};

const rules: RouteConfig<{ total: number }>['rules'] = [
  { subject: 'shop.orders.eu.>', to: 'never.matches' },
  { subject: 'shop.orders.*', when: (o) => o.data.total > 10_000, to: 'orders.review' },
  { subject: 'shop.orders.*.express', to: 'orders.express' },
  { subject: 'shop.>', to: 'orders.standard' },
];

describe('route', () => {
  it('sends each envelope to the first matching rule, else to otherwise', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-d-|', { a: orders.big, b: orders.small, c: orders.express, d: orders.other });
      expectObservable(source.pipe(route({ name: 'orders', rules, otherwise: 'orders.unrouted' }), map(show))).toBe('-a-b-c-d-|', {
        a: 'orders.review<big',
        b: 'orders.standard<small',
        c: 'orders.express<express',
        d: 'orders.unrouted<other',
      });
    }));

  it('in mode all sends to every matching target once, in rule order', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a------b---|', { a: orders.big, b: orders.other });
      const all = route({ name: 'orders', rules: [...rules, { to: 'orders.standard' }, { to: 'audit' }], mode: 'all', otherwise: 'x' });
      expectObservable(source.pipe(all, map(show))).toBe('-(abc)--(de)|', {
        a: 'orders.review<big',
        b: 'orders.standard<big',
        c: 'audit<big',
        d: 'orders.standard<other',
        e: 'audit<other',
      });
    }));

  it('accepts rules as a record of target → predicate or { when, subject }', () => {
    const seen: string[] = [];
    from([orders.big, orders.small, orders.other])
      .pipe(
        route<{ total: number }>({
          name: 'r',
          rules: { 'orders.review': (o) => o.data.total > 100, 'orders.eu': { subject: 'shop.orders.eu' } },
          otherwise: 'orders.rest',
        }),
      )
      .subscribe((o) => seen.push(show(o)));
    expect(seen).toEqual(['orders.review<big', 'orders.eu<small', 'orders.rest<other']);
  });

  it('chooses the target per envelope with a to function', () => {
    const seen: string[] = [];
    from([orders.big, orders.express])
      .pipe(route({ name: 'r', rules: [{ subject: 'shop.orders.>', to: (o) => `region.${o.subject.split('.')[2]}` }], otherwise: 'x' }))
      .subscribe((o) => seen.push(show(o)));
    expect(seen).toEqual(['region.eu<big', 'region.us<express']);
  });

  it('dead-letters an envelope whose when or to throws or yields a bad subject, and carries on', () =>
    testScheduler().run(({ cold, expectObservable }) => {
      const bad = env('shop.orders.eu', null, 'bad');
      const source = cold('-a-b-c-|', { a: bad, b: orders.small, c: orders.express });
      const r = route<{ total: number } | null>({
        name: 'r',
        rules: [
          { subject: 'shop.orders.eu', when: (o) => o.data!.total > 100, to: 'big' },
          { subject: 'shop.orders.eu', to: 'small' },
          { subject: 'shop.orders.us.*', to: () => 'has.*.wildcard' },
        ],
        otherwise: 'x',
      });
      expectObservable(source.pipe(r, map(show))).toBe('-a-b-c-|', {
        a: 'dlq:RouteRuleError<bad',
        b: 'small<small',
        c: 'dlq:RouteRuleError<express',
      });
    }));

  it('puts the rule, the cause and where the envelope came from in the dead letter', () => {
    const bad = { ...env('shop.orders.eu', null, 'bad'), stream: 'ORDERS', seq: 7, raw: new Uint8Array([1, 2]) };
    const out: Out[] = [];
    from([bad])
      .pipe(
        route<null>({
          name: 'orders',
          rules: [
            {
              when: () => {
                throw new TypeError('no total');
              },
              to: 'a',
            },
          ],
          otherwise: 'b',
        }),
      )
      .subscribe((o) => out.push(o));
    expect(out).toHaveLength(1);
    const dead = out[0] as DeadLettered<null>;
    expect(dead.kind).toBe('dead-letter');
    expect(dead.record).toMatchObject({
      v: 1,
      operator: 'route:orders',
      subject: 'shop.orders.eu',
      stream: 'ORDERS',
      seq: 7,
      id: 'bad',
      payload: new Uint8Array([1, 2]),
      payloadSource: 'raw',
      attempts: 1,
      error: { name: 'RouteRuleError', message: "route 'orders': rule 0 'when' failed: TypeError: no total" },
    });
    expect((dead.error.cause as Error).name).toBe('TypeError');
  });

  it('in mode all dead-letters the whole envelope when a later rule throws (no half delivery)', () => {
    const out: string[] = [];
    from([orders.big])
      .pipe(
        route({
          name: 'r',
          mode: 'all',
          rules: [
            { to: 'a' },
            {
              when: () => {
                throw new Error('boom');
              },
              to: 'b',
            },
          ],
          otherwise: 'x',
        }),
      )
      .subscribe((o) => out.push(show(o)));
    expect(out).toEqual(['dlq:RouteRuleError<big']);
  });

  it('rejects bad configuration at creation', () => {
    const ok = { name: 'r', rules: [{ to: 'a' }], otherwise: 'b' };
    expect(() => route({ ...ok, otherwise: undefined as unknown as string })).toThrow(InvalidConfigError);
    expect(() => route({ ...ok, otherwise: 'a.*' })).toThrow(/otherwise/);
    expect(() => route({ ...ok, rules: [] })).toThrow(/rules/);
    expect(() => route({ ...ok, rules: [{ to: 'a..b' }] })).toThrow(/rules\[0\]\.to/);
    expect(() => route({ ...ok, rules: [{ to: 'a', subject: 'a.>.b' }] })).toThrow(/rules\[0\]\.subject/);
    expect(() => route({ ...ok, rules: [{ to: 'a', when: 3 as unknown as () => boolean }] })).toThrow(/when/);
    expect(() => route({ ...ok, mode: 'some' as 'all' })).toThrow(/mode/);
    expect(() => route({ ...ok, name: '' })).toThrow(/name/);
  });

  describe('checklist', () => {
    const r = () => route({ name: 'r', rules: [{ to: 'a' }], otherwise: 'b' });

    it('never emits for a never-ending silent source', () => testScheduler().run(({ expectObservable }) => expectObservable(NEVER.pipe(r())).toBe('-')));

    it('completes for an empty source', () => testScheduler().run(({ expectObservable }) => expectObservable(EMPTY.pipe(r())).toBe('|')));

    it('passes a source error on', () =>
      testScheduler().run(({ expectObservable }) => expectObservable(throwError(() => 'boom').pipe(r())).toBe('#', undefined, 'boom')));

    it('unsubscribes from the source when unsubscribed early', () =>
      testScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
        const source = hot('-a-a-a-a-', { a: orders.small });
        expectObservable(source.pipe(r(), map(show)), '^--!').toBe('-a-', { a: 'a<small' });
        expectSubscriptions(source.subscriptions).toBe('^--!');
      }));

    it('stops a synchronous source when unsubscribed', () => {
      const { source: endless, produced } = endlessSource<Envelope<number>>((i) => env('x', i));
      const seen: string[] = [];
      endless.pipe(r(), take(3)).subscribe((o) => seen.push(show(o)));
      expect(seen).toHaveLength(3);
      expect(produced()).toBe(3);
    });
  });

  describe('property: each envelope reaches exactly the targets its rules match', () => {
    const token = fc.constantFrom('a', 'b', 'c');
    const subject = fc.array(token, { minLength: 1, maxLength: 4 }).map((t) => t.join('.'));
    const pattern = fc
      .tuple(fc.array(fc.constantFrom('a', 'b', '*'), { minLength: 1, maxLength: 3 }), fc.boolean())
      .map(([t, tail]) => (tail ? [...t, '>'] : t).join('.'));
    const ruleArb = fc.record({
      subject: fc.option(pattern, { nil: undefined }),
      modulo: fc.option(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 3 })), { nil: undefined }),
      to: fc.constantFrom('t1', 't2', 't3', 't4'),
    });

    it('matches a reference model in both modes', () => {
      fc.assert(
        fc.property(
          fc.array(ruleArb, { minLength: 1, maxLength: 6 }),
          fc.array(fc.tuple(subject, fc.nat(20)), { maxLength: 30 }),
          fc.boolean(),
          (specs, inputs, all) => {
            const rules = specs.map((s) => ({
              to: s.to,
              subject: s.subject,
              when: s.modulo === undefined ? undefined : (e: Envelope<number>) => e.data % s.modulo![0] === s.modulo![1],
            }));
            const envelopes = inputs.map(([subj, n], i) => env(subj, n, String(i)));
            const actual: string[] = [];
            from(envelopes)
              .pipe(route({ name: 'p', rules, mode: all ? 'all' : 'first', otherwise: 'none' }))
              .subscribe((o) => actual.push(show(o)));

            const expected: string[] = [];
            for (const e of envelopes) {
              const hits = specs.filter(
                (s) => (s.subject === undefined || subjectMatches(s.subject, e.subject)) && (s.modulo === undefined || e.data % s.modulo[0] === s.modulo[1]),
              );
              const targets = [...new Set(hits.map((s) => s.to))];
              const chosen = targets.length === 0 ? ['none'] : all ? targets : [hits[0]!.to];
              for (const t of chosen) expected.push(`${t}<${e.id}`);
            }
            expect(actual).toEqual(expected);
          },
        ),
        { numRuns: Number(process.env.PROP_RUNS ?? 200) },
      );
    });
  });
});
