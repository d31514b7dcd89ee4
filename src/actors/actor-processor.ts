import { asyncScheduler } from 'rxjs';
import type { Codec } from '../codec/codec.js';
import { codecFor } from '../codec/codec-for.js';
import { msgpackCodec } from '../codec/msgpack-codec.js';
import { deadLetterMessage } from '../dead-letter/dead-letter-message.js';
import { HEADERS, type Envelope } from '../envelope/envelope.js';
import { ControlNotAllowedError, DecodeError, ensureError } from '../errors.js';
import type { BatchProcessor, ExactlyOnceTxn } from '../exactly-once/types.js';
import type { StreamMessage, Transport } from '../transport/transport.js';
import { ActorCache } from './actor-cache.js';
import { keyBytes, keyFits } from '../state/state-key.js';
import { KeyStoppedError, KeyTooLongError } from './actor-errors.js';
import { actorKeyOf } from './actor-key-of.js';
import { MAX_ACTOR_KEY_BYTES } from './actor-limits.js';
import { actorSubjects, keyToken, type ActorSubjects } from './actor-subjects.js';
import { REPLY_TO_HEADER, runBehaviour, type BehaviourEnv, type BehaviourRun, type Effect } from './run-behaviour.js';
import { ACTOR_QUERY_HEADERS } from './actor-query-headers.js';
import { silentLogger } from '../logger.js';
import type { ActorDefinition, ActorInput, ActorMessage, ActorRuntimeOptions, StoredTimer, TimerListener } from './types.js';

/** Options of {@link createActorProcessor}. */
export interface ActorProcessorOptions extends ActorRuntimeOptions {
  /** Core NATS for `ctx.ask` (request) and `ctx.reply` (publish). Without it `ask` throws and replies are dropped. */
  io?: Pick<Transport, 'request' | 'publish'> | undefined;
  /**
   * The largest dead letter the engine may publish (the transport's max_payload): an oversized
   * record would be refused on every retry and stop the actor. Default: no limit.
   */
  maxDeadLetterBytes?: (() => number) | undefined;
  /** Told about timers set and cancelled (the timer service). */
  timers?: TimerListener | undefined;
}

/** Counters since the processor was created. */
export interface ActorProcessorStats {
  /** Messages a behaviour handled successfully. */
  handled: number;
  deadLettered: number;
  timersFired: number;
  /** Timer firings ignored because the timer was cancelled or replaced. */
  staleTimers: number;
  /** Messages skipped because the stored state already includes them. */
  alreadyApplied: number;
  keysInMemory: number;
  evictions: number;
}

/** The LMDB namespaces an actor writes (through the engine's transaction). */
export interface ActorNamespaces {
  /** key → `ActorRecord` (state, last applied seq, stop marker). */
  readonly state: string;
  /** `<keyToken>/<timerId>` → {@link StoredTimer}. */
  readonly timers: string;
}

/** A keyed actor as a batch processor for the exactly-once engine. */
export interface ActorProcessor {
  readonly process: BatchProcessor;
  readonly subjects: ActorSubjects;
  readonly namespaces: ActorNamespaces;
  stats(): ActorProcessorStats;
  /** Evicts idle keys now (also done at the start of every batch); returns how many. */
  sweep(): number;
}

/** How a key's state is stored: `s` the state, `q` the last stream seq applied, `stop` when stopped. */
export interface ActorRecord<S> {
  readonly s: S;
  readonly q: number;
  readonly stop?: { readonly name: string; readonly message: string; readonly seq: number } | undefined;
}

type Work = { readonly m: StreamMessage; readonly kind: 'message' | 'tell' | 'timer' | 'reset'; readonly msg?: ActorMessage<unknown> };
type MaybeAfterCommit = ExactlyOnceTxn & { afterCommit?: (fn: () => void) => void };

export function actorNamespaces(name: string): ActorNamespaces {
  return { state: `actor.${name}`, timers: `actor.${name}.timers` };
}

/** The timers-namespace key of a timer: a key token has no `/`, so the split is unambiguous. */
export function timerKey(key: string, timerId: string): string {
  return `${keyToken(key)}/${timerId}`;
}

/**
 * Runs an actor inside the exactly-once engine: for each micro-batch it groups messages by key,
 * runs each key's messages one at a time in stream order (keys concurrently), and writes states,
 * timers, outputs and dead letters through the engine's transaction, which commits them with the
 * batch's position. Calls never overlap: a second batch waits for the first.
 *
 * Memory: the states of at most `maxKeysInMemory` keys are cached between batches. The cache is
 * only a shortcut to what is in LMDB: entries touched by a batch that fails are dropped, and an
 * entry that already includes a message being delivered (a replay after a failed commit) is
 * reloaded from the transaction.
 *
 * Reply and timer notifications run after the commit when the engine's transaction offers
 * `afterCommit(fn)`; otherwise when the batch's processing is done (then a reply may be sent
 * again if the batch is replayed).
 *
 * @throws only what the transaction throws (the batch then fails and nothing is committed);
 * behaviour failures, undecodable input and bad keys become dead letters.
 */
export function createActorProcessor<S, M, P>(def: ActorDefinition<S, M, P>, options: ActorProcessorOptions): ActorProcessor {
  const scheduler = options.scheduler ?? asyncScheduler;
  const log = options.logger ?? silentLogger;
  const subjects = actorSubjects({ topology: options.topology, actor: def.name, prefix: options.prefix });
  const ns = actorNamespaces(def.name);
  const actorSpace = subjects.base.slice(0, -def.name.length); // `<prefix>.<topology>.`
  const cache = new ActorCache<ActorRecord<S>>(def.maxKeysInMemory, def.passivateAfterMs, () => scheduler.now());
  const env: BehaviourEnv<S, M, P> = { def, scheduler, io: options.io, logger: log };
  const stats = { handled: 0, deadLettered: 0, timersFired: 0, staleTimers: 0, alreadyApplied: 0 };
  let tail: Promise<void> = Promise.resolve();

  const deadLetter = (txn: ExactlyOnceTxn, m: StreamMessage, key: string | undefined, thrown: unknown, attempts: number): void => {
    const error = ensureError(thrown);
    const original: Envelope<Uint8Array> = {
      subject: m.subject,
      data: m.data,
      headers: m.headers,
      id: m.id,
      key,
      eventTime: m.eventTime,
      stream: m.stream,
      seq: m.seq,
      raw: m.data,
    };
    const { payload, headers } = deadLetterMessage(original, error, {
      operator: `actor:${def.name}`,
      failedAt: scheduler.now(),
      attempts,
      maxBytes: options.maxDeadLetterBytes?.(),
    });
    txn.emit(m, subjects.deadLetter, payload, headers);
    stats.deadLettered += 1;
    log.warn({ actor: def.name, key, subject: m.subject, seq: m.seq, err: error.message, attempts }, 'actor message dead-lettered');
  };

  /**
   * Answers a reset that names an inbox (`resetActorKey` with `timeoutMs`) after the commit, as a
   * state query answers: `{ key, reset: true }`, or the refusal with code 403.
   */
  const answerReset = (m: StreamMessage, key: string, refusal: ControlNotAllowedError | undefined, after: (fn: () => void) => void): void => {
    const to = m.headers[REPLY_TO_HEADER];
    if (to === undefined) return;
    const headers: Record<string, string> =
      refusal === undefined
        ? { [HEADERS.contentType]: msgpackCodec.contentType }
        : { [ACTOR_QUERY_HEADERS.error]: refusal.message, [ACTOR_QUERY_HEADERS.errorCode]: '403' };
    const data = refusal === undefined ? msgpackCodec.encode({ key, reset: true }) : new Uint8Array();
    after(() => options.io?.publish(to, data, { headers }));
  };

  /** Groups by key in stream order; inputs whose key cannot be had, or is too long, are dead-lettered here. */
  const classify = (batch: readonly StreamMessage[], txn: ExactlyOnceTxn): Map<string, Work[]> => {
    const groups = new Map<string, Work[]>();
    for (const m of batch) {
      const own = subjects.parse(m.subject);
      let key: string;
      let work: Work;
      if (own !== undefined) {
        key = own.key;
        // A tell or reset published past the client helpers may carry any token. Here, before the
        // key reaches LMDB: there, a key past its limit fails the whole batch's commit, on every
        // restart again.
        if (!keyFits(key, MAX_ACTOR_KEY_BYTES)) {
          deadLetter(txn, m, undefined, new KeyTooLongError(def.name, m.subject, m.seq, keyBytes(key), MAX_ACTOR_KEY_BYTES), 0);
          continue;
        }
        work = { m, kind: own.kind };
      } else if (m.subject.startsWith(actorSpace)) {
        // Another actor's tell/timer/reset on a shared input stream: its business, not bad input.
        continue;
      } else {
        let msg: ActorMessage<M>;
        try {
          msg = decodeInput<M>(m, def.codec);
        } catch (err) {
          deadLetter(txn, m, undefined, err, 0);
          continue;
        }
        try {
          // Checked for length too, before the key reaches LMDB (see above).
          key = actorKeyOf(def, msg);
        } catch (err) {
          deadLetter(txn, m, undefined, err, 0);
          continue;
        }
        work = { m, kind: 'message', msg };
      }
      const list = groups.get(key);
      if (list === undefined) groups.set(key, [work]);
      else list.push(work);
    }
    return groups;
  };

  const load = (key: string, firstSeq: number, txn: ExactlyOnceTxn): ActorRecord<S> | undefined => {
    const cached = cache.get(key);
    if (cached !== undefined && cached.q < firstSeq) return cached;
    return txn.get<ActorRecord<S>>(ns.state, key);
  };

  /** Applies a successful attempt's effects; returns whether the state is to be cleared. */
  const apply = (txn: ExactlyOnceTxn, m: StreamMessage, key: string, effects: readonly Effect[], after: (fn: () => void) => void): boolean => {
    let cleared = false;
    let n = 0;
    for (const e of effects) {
      switch (e.t) {
        case 'emit':
          txn.emit(m, e.subject, e.data, e.headers);
          break;
        case 'reply':
          after(() => options.io?.publish(e.to, e.data, { headers: e.headers }));
          break;
        case 'set-timer': {
          const timer: StoredTimer = { key, timerId: e.timerId, instance: `${m.stream}:${m.seq}:${n++}`, dueAt: e.dueAt, payload: e.payload };
          txn.put(ns.timers, timerKey(key, e.timerId), timer);
          after(() => options.timers?.set(timer));
          break;
        }
        case 'cancel-timer':
          txn.delete(ns.timers, timerKey(key, e.timerId));
          after(() => options.timers?.cancel(key, e.timerId));
          break;
        case 'clear-state':
          cleared = true;
          break;
      }
    }
    return cleared;
  };

  /** Turns one work item into what the behaviour sees; undefined for a stale timer firing. */
  const prepare = (txn: ExactlyOnceTxn, key: string, w: Work): ActorMessage<M, P> | undefined => {
    if (w.msg !== undefined) return w.msg as ActorMessage<M, P>;
    if (w.kind === 'tell') return decodeInput<M>(w.m, def.codec);
    const env = decodeInput<TimerFiring>(w.m, msgpackCodec);
    const firing = env.data;
    const stored = txn.get<StoredTimer>(ns.timers, timerKey(key, String(firing?.timerId)));
    if (stored === undefined || stored.instance !== firing.instance) {
      stats.staleTimers += 1;
      log.debug({ actor: def.name, key, timerId: firing?.timerId, seq: w.m.seq }, 'stale timer firing ignored');
      return undefined;
    }
    txn.delete(ns.timers, timerKey(key, stored.timerId));
    stats.timersFired += 1;
    return { ...env, data: stored.payload as P, kind: 'timer', timerId: stored.timerId, dueAt: stored.dueAt };
  };

  /** Where one key's run is: its record so far, and whether it must be written. */
  type KeyRun = { rec: ActorRecord<S> | undefined; dirty: boolean };

  /** Records the outcome of a behaviour run on message `m` of `key`. */
  const settle = (txn: ExactlyOnceTxn, key: string, m: StreamMessage, state: S, run: BehaviourRun<S>, kr: KeyRun, after: (fn: () => void) => void): void => {
    kr.dirty = true;
    if (run.ok) {
      stats.handled += 1;
      const cleared = apply(txn, m, key, run.effects, after);
      kr.rec = cleared ? undefined : { s: run.state, q: m.seq };
      return;
    }
    deadLetter(txn, m, key, run.error, run.attempts);
    const sup = def.supervision;
    const stop = sup.mode === 'stop-key' || (sup.mode === 'retry' && sup.onExhausted === 'stop-key');
    // No `stop: undefined`: msgpack would store the field (as an extension type other readers lack).
    kr.rec = stop ? { s: state, q: m.seq, stop: { name: run.error.name, message: run.error.message, seq: m.seq } } : { s: state, q: m.seq };
    if (stop) log.error({ actor: def.name, key, seq: m.seq, err: run.error.message }, 'actor key stopped');
  };

  /**
   * Runs one key's messages from `from` on, in order. Synchronous as long as the behaviour is:
   * only an async behaviour makes it return a Promise (for the rest of this key's messages).
   */
  const runKey = (
    txn: ExactlyOnceTxn,
    key: string,
    items: readonly Work[],
    from: number,
    kr: KeyRun,
    after: (fn: () => void) => void,
  ): void | Promise<void> => {
    for (let i = from; i < items.length; i++) {
      const w = items[i]!;
      const m = w.m;
      if (kr.rec !== undefined && m.seq <= kr.rec.q) {
        stats.alreadyApplied += 1;
        continue;
      }
      if (w.kind === 'reset') {
        if (options.allowControl !== true) {
          // Kept as a dead letter: the operator sees the refusal, and can replay the reset once
          // the run allows control.
          const refusal = new ControlNotAllowedError(options.topology, `reset of actor '${def.name}'`);
          deadLetter(txn, m, key, refusal, 0);
          answerReset(m, key, refusal, after);
          continue;
        }
        if (kr.rec !== undefined) {
          kr.rec = wantsClearState(m, def.codec) ? undefined : { s: kr.rec.s, q: m.seq };
          kr.dirty = true;
        }
        answerReset(m, key, undefined, after);
        continue;
      }
      let msg: ActorMessage<M, P> | undefined;
      try {
        msg = prepare(txn, key, w);
      } catch (err) {
        deadLetter(txn, m, key, err, 0);
        continue;
      }
      if (msg === undefined) continue;
      if (kr.rec?.stop !== undefined) {
        deadLetter(txn, m, key, new KeyStoppedError(def.name, key, kr.rec.stop), 0);
        kr.rec = { ...kr.rec, q: m.seq };
        kr.dirty = true;
        continue;
      }
      let state: S;
      try {
        state = kr.rec !== undefined ? kr.rec.s : def.initial(key);
      } catch (err) {
        deadLetter(txn, m, key, err, 0);
        continue;
      }
      const run = runBehaviour(env, key, state, msg);
      if (run instanceof Promise) {
        return run.then((r) => {
          settle(txn, key, m, state, r, kr, after);
          return runKey(txn, key, items, i + 1, kr, after);
        });
      }
      settle(txn, key, m, state, run, kr, after);
    }
    if (!kr.dirty) return;
    if (kr.rec === undefined) {
      txn.delete(ns.state, key);
      cache.delete(key);
    } else {
      txn.put(ns.state, key, kr.rec);
      cache.set(key, kr.rec);
    }
  };

  const processBatch = async (batch: readonly StreamMessage[], txn: ExactlyOnceTxn): Promise<void> => {
    cache.sweep();
    const deferred: (() => void)[] = [];
    const afterCommit = (txn as MaybeAfterCommit).afterCommit?.bind(txn);
    const after = (fn: () => void): void => {
      const safe = (): void => {
        try {
          fn();
        } catch (err) {
          log.warn({ actor: def.name, err: ensureError(err).message }, 'actor after-commit action failed');
        }
      };
      if (afterCommit !== undefined) afterCommit(safe);
      else deferred.push(safe);
    };
    const groups = classify(batch, txn);
    const pending: Promise<void>[] = [];
    let failure: { reason: unknown } | undefined;
    for (const [key, items] of groups) {
      try {
        const running = runKey(txn, key, items, 0, { rec: load(key, items[0]!.m.seq, txn), dirty: false }, after);
        if (running !== undefined) pending.push(running);
      } catch (err) {
        failure = { reason: err };
        break;
      }
    }
    // allSettled, not all: no key's run may still touch the transaction once this batch has failed.
    for (const r of pending.length > 0 ? await Promise.allSettled(pending) : []) {
      if (r.status === 'rejected') failure ??= { reason: r.reason };
    }
    if (failure !== undefined) {
      for (const key of groups.keys()) cache.delete(key);
      throw failure.reason;
    }
    for (const fn of deferred) fn();
  };

  return {
    process: (batch, txn) => {
      const run = tail.then(() => processBatch(batch, txn));
      tail = run.then(
        () => undefined,
        () => undefined,
      );
      return run;
    },
    subjects,
    namespaces: ns,
    stats: () => ({ ...stats, keysInMemory: cache.size, evictions: cache.evictions }),
    sweep: () => cache.sweep(),
  };
}

/** The payload of a timer firing message (msgpack), published by the timer service. */
export interface TimerFiring {
  readonly timerId: string;
  readonly instance: string;
  readonly dueAt: number;
  readonly payload: unknown;
}

/**
 * Decodes a stream message into a plain envelope. Fields are copied one by one: the engine's
 * messages compute `headers`, `id` and `eventTime` in getters, which an object spread would drop.
 */
function decodeInput<T>(m: StreamMessage, codec: Codec): ActorInput<T> {
  // Not decodeEnvelope: it copies the envelope with a spread, a second object per message that
  // would lose the engine message's getters anyway.
  const contentType = m.headers[HEADERS.contentType];
  const c = codecFor(contentType, codec);
  if (c === undefined) throw new DecodeError(m, contentType ?? '', `unsupported content type '${contentType}'`);
  let data: T;
  try {
    data = c.decode(m.data) as T;
  } catch (err) {
    throw new DecodeError(m, c.contentType, err instanceof Error ? err.message : String(err), { cause: err });
  }
  // An input handed over by its topology (`t.actor`) shows the subject it arrived on.
  const subject = m.headers[HEADERS.originSubject] ?? m.subject;
  return {
    kind: 'message',
    subject,
    data,
    headers: m.headers,
    id: m.id,
    key: m.key,
    eventTime: m.eventTime,
    stream: m.stream,
    seq: m.seq,
    reply: m.reply,
    raw: m.data,
  };
}

/** Whether a reset message asks for `{ clearState: true }`; an unreadable option still resets. */
function wantsClearState(m: StreamMessage, codec: Codec): boolean {
  if (m.data.length === 0) return false;
  try {
    return decodeInput<{ clearState?: unknown } | null>(m, codec).data?.clearState === true;
  } catch {
    return false;
  }
}
