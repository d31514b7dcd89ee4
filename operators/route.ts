import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { markStage } from '../src/observe/lineage.js';
import type { Envelope } from '../src/envelope/envelope.js';
import { InvalidConfigError, InvalidSubjectError } from '../src/errors.js';
import { validateSubject } from '../src/transport/subject.js';
import { deadLettered, type DeadLettered } from '../src/dead-letter/dead-letter-record.js';
import { subscribeLinked } from './internal/subscribe-linked.js';
import { compileSubjectPattern, isPublishableSubject } from './internal/subject-matcher.js';

/** One routing rule: where matching envelopes go, and what makes them match. */
export interface RouteRule<T> {
  /** Target subject, or a function choosing it per envelope (must return a publishable subject). */
  to: string | ((envelope: Envelope<T>) => string);
  /** Content test; omitted means every envelope passes. */
  when?: ((envelope: Envelope<T>) => boolean) | undefined;
  /** NATS pattern (`*`, `>`) the envelope's subject must match; omitted means any subject. */
  subject?: string | undefined;
}

/** Record form of the rules: target subject → content test, or `{ when?, subject? }`. */
export type RouteRuleRecord<T> = Readonly<
  Record<string, ((envelope: Envelope<T>) => boolean) | { when?: ((envelope: Envelope<T>) => boolean) | undefined; subject?: string | undefined }>
>;

/** Options for {@link route}. */
export interface RouteConfig<T> {
  /** Names the operator in dead letters (`route:<name>`). */
  name: string;
  /** Rules in priority order (an array, or a record whose keys are the targets, in insertion order). */
  rules: readonly RouteRule<T>[] | RouteRuleRecord<T>;
  /** `first`: the first matching rule wins. `all`: every matching rule's target (each once). Default `first`. */
  mode?: 'first' | 'all' | undefined;
  /** Subject for envelopes no rule matches. Required: an unmatched envelope must never vanish. */
  otherwise: string;
  /** Clock for dead-letter timestamps. Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
}

/** An envelope routed to one target subject; the envelope itself is unchanged (its `subject` is where it came from). */
export interface Routed<T> {
  readonly kind: 'routed';
  readonly to: string;
  readonly envelope: Envelope<T>;
}

interface CompiledRule<T> {
  readonly index: number;
  readonly target: string | undefined;
  readonly targetOf: ((envelope: Envelope<T>) => string) | undefined;
  readonly when: ((envelope: Envelope<T>) => boolean) | undefined;
  readonly matches: ((subject: string) => boolean) | undefined;
}

const NAME = 'route';

/**
 * Routes each envelope to one or more target subjects by its subject (NATS patterns) and content.
 *
 * - Emits: per envelope, one `Routed` per target (mode `first`: exactly one; `all`: one per
 *   distinct matching target), or one `Routed` to `otherwise` when nothing matches; synchronously.
 *   A `when` or `to` function that throws, or a `to` that returns an unpublishable subject, emits
 *   one `DeadLettered` for that envelope instead (and no `Routed`): the stream carries on.
 * - Holds: nothing between events. Patterns are compiled once; per event it allocates only the
 *   output objects (this is the hot path).
 * - Completes/fails: when the source does.
 *
 * ```ts
 * orders$.pipe(
 *   route({ name: 'orders', otherwise: 'orders.standard', rules: [
 *     { subject: 'shop.orders.eu.>', when: (o) => o.data.total > 10_000, to: 'orders.review' },
 *     { subject: 'shop.orders.*.express', to: 'orders.express' },
 *   ] }),
 * ).subscribe((r) =>
 *   r.kind === 'routed'
 *     ? transport.publish(r.to, r.envelope.raw!, { headers: r.envelope.headers }) // forward the bytes as they came
 *     : ctx.deadLetter(r.envelope, r.error),
 * );
 * ```
 * @throws InvalidConfigError at creation for a missing `otherwise`, a bad subject or pattern.
 */
export function route<T>(config: RouteConfig<T>): OperatorFunction<Envelope<T>, Routed<T> | DeadLettered<T>> {
  const { name, rules, all, otherwise, scheduler } = validate(config);
  const operator = `${NAME}:${name}`;
  const n = rules.length;
  return (source) =>
    markStage(
      new Observable<Routed<T> | DeadLettered<T>>((subscriber) => {
        const fail = (env: Envelope<T>, rule: CompiledRule<T>, part: string, thrown: unknown): void => {
          const error = new RouteRuleError(name, rule.index, part, thrown);
          subscriber.next(deadLettered(env, error, 1, { operator, failedAt: scheduler.now() }));
        };

        // Returns the target, or undefined after emitting a dead letter.
        const targetOf = (env: Envelope<T>, rule: CompiledRule<T>): string | undefined => {
          if (rule.target !== undefined) return rule.target;
          let to: string;
          try {
            to = rule.targetOf!(env);
          } catch (err) {
            fail(env, rule, 'to', err);
            return undefined;
          }
          if (typeof to !== 'string' || !isPublishableSubject(to)) {
            fail(env, rule, 'to', new InvalidSubjectError(String(to), 'is not a subject that can be published to'));
            return undefined;
          }
          return to;
        };

        // Reused across events; a re-entrant event (downstream feeding the source) gets its own.
        const scratch: string[] = [];
        let scratchBusy = false;

        // Whether `rule` selects `env`: its subject pattern and its `when`. Undefined after emitting
        // a dead letter for a `when` that threw.
        const selects = (env: Envelope<T>, rule: CompiledRule<T>): boolean | undefined => {
          if (rule.matches !== undefined && !rule.matches(env.subject)) return false;
          if (rule.when === undefined) return true;
          try {
            return Boolean(rule.when(env)); // a predicate returning undefined must read as false, not as "failed"
          } catch (err) {
            fail(env, rule, 'when', err);
            return undefined;
          }
        };

        const routeFirst = (env: Envelope<T>): void => {
          for (let i = 0; i < n; i++) {
            const rule = rules[i]!;
            const selected = selects(env, rule);
            if (selected === undefined) return;
            if (!selected) continue;
            const to = targetOf(env, rule);
            if (to !== undefined) subscriber.next({ kind: 'routed', to, envelope: env });
            return;
          }
          subscriber.next({ kind: 'routed', to: otherwise, envelope: env });
        };

        const routeAll = (env: Envelope<T>): void => {
          const targets = scratchBusy ? [] : scratch;
          const owns = targets === scratch;
          if (owns) scratchBusy = true;
          targets.length = 0;
          try {
            // Every rule is evaluated before anything is emitted, so a throwing rule dead-letters
            // the envelope as a whole instead of leaving it half-delivered.
            for (let i = 0; i < n; i++) {
              const rule = rules[i]!;
              const selected = selects(env, rule);
              if (selected === undefined) return;
              if (!selected) continue;
              const to = targetOf(env, rule);
              if (to === undefined) return;
              if (!targets.includes(to)) targets.push(to);
            }
            if (targets.length === 0) {
              subscriber.next({ kind: 'routed', to: otherwise, envelope: env });
              return;
            }
            for (let i = 0; i < targets.length && !subscriber.closed; i++) {
              subscriber.next({ kind: 'routed', to: targets[i]!, envelope: env });
            }
          } finally {
            if (owns) {
              targets.length = 0;
              scratchBusy = false;
            }
          }
        };

        subscribeLinked(source, subscriber, {
          next: all ? routeAll : routeFirst,
          error: (err: unknown) => subscriber.error(err),
          complete: () => subscriber.complete(),
        });
      }),
      source,
      { name: operator, effect: 'passes' },
    );
}

/** A routing rule's `when` or `to` failed for one envelope; that envelope is dead-lettered. */
export class RouteRuleError extends Error {
  override readonly name = 'RouteRuleError';
  constructor(
    readonly route: string,
    readonly rule: number,
    readonly part: string,
    cause: unknown,
  ) {
    const detail = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`route '${route}': rule ${rule} '${part}' failed: ${detail}`, { cause });
  }
}

function validate<T>(config: RouteConfig<T>): {
  name: string;
  rules: CompiledRule<T>[];
  all: boolean;
  otherwise: string;
  scheduler: SchedulerLike;
} {
  if (typeof config !== 'object' || config === null) throw new InvalidConfigError(NAME, 'config', 'must be an object');
  const { name, otherwise, mode = 'first' } = config;
  if (typeof name !== 'string' || name.length === 0) throw new InvalidConfigError(NAME, 'name', `must be a non-empty string, got ${String(name)}`);
  if (typeof otherwise !== 'string') {
    throw new InvalidConfigError(NAME, 'otherwise', 'is required: the subject for envelopes no rule matches (unmatched input must not vanish)');
  }
  checkSubject(otherwise, 'otherwise', false);
  if (mode !== 'first' && mode !== 'all') throw new InvalidConfigError(NAME, 'mode', `must be 'first' or 'all', got ${JSON.stringify(mode)}`);
  const list = normaliseRules(config.rules);
  if (list.length === 0) throw new InvalidConfigError(NAME, 'rules', 'must hold at least one rule');
  const rules = list.map((rule, i): CompiledRule<T> => {
    const field = `rules[${i}]`;
    if (typeof rule !== 'object' || rule === null) throw new InvalidConfigError(NAME, field, 'must be an object');
    const { to, when, subject } = rule;
    if (typeof to === 'string') checkSubject(to, `${field}.to`, false);
    else if (typeof to !== 'function') throw new InvalidConfigError(NAME, `${field}.to`, `must be a subject or a function, got ${typeof to}`);
    if (when !== undefined && typeof when !== 'function') throw new InvalidConfigError(NAME, `${field}.when`, `must be a function, got ${typeof when}`);
    if (subject !== undefined) checkSubject(subject, `${field}.subject`, true);
    return {
      index: i,
      target: typeof to === 'string' ? to : undefined,
      targetOf: typeof to === 'function' ? to : undefined,
      when,
      matches: subject === undefined || subject === '>' ? undefined : compileSubjectPattern(subject),
    };
  });
  return { name, rules, all: mode === 'all', otherwise, scheduler: config.scheduler ?? asyncScheduler };
}

function normaliseRules<T>(rules: RouteConfig<T>['rules']): readonly RouteRule<T>[] {
  if (Array.isArray(rules)) return rules as readonly RouteRule<T>[];
  if (typeof rules !== 'object' || rules === null) throw new InvalidConfigError(NAME, 'rules', 'must be an array or a record of target → rule');
  return Object.entries(rules as RouteRuleRecord<T>).map(([to, rule]) =>
    typeof rule === 'function'
      ? { to, when: rule }
      : typeof rule === 'object' && rule !== null
        ? { to, when: rule.when, subject: rule.subject }
        : (rule as unknown as RouteRule<T>),
  );
}

function checkSubject(subject: string, field: string, wildcards: boolean): void {
  try {
    validateSubject(subject, { wildcards });
  } catch (err) {
    throw new InvalidConfigError(NAME, field, err instanceof Error ? err.message : String(err), { cause: err });
  }
}
