import type { Subscription } from 'rxjs';
import { codecFor } from '../codec/codec-for.js';
import { HEADERS } from '../envelope/envelope.js';
import { ensureError } from '../errors.js';
import { keyBytes, keyFits } from '../state/state-key.js';
import type { Transport } from '../transport/transport.js';
import { MAX_ACTOR_KEY_BYTES } from './actor-limits.js';
import { ACTOR_QUERY_HEADERS } from './actor-query-headers.js';
import type { ActorRecord } from './actor-processor.js';
import { keyFromToken, type ActorSubjects } from './actor-subjects.js';
import type { Logger } from '../logger.js';
import type { ActorDefinition } from './types.js';

/** What `{ op: 'status' }` answers. */
export interface ActorStatus {
  readonly key: string;
  readonly found: boolean;
  /** Stream sequence of the last message applied to the key. */
  readonly lastSeq: number | null;
  readonly stopped: { readonly name: string; readonly message: string; readonly seq: number } | null;
}

/** Options of {@link serveActorQueries}. */
export interface ServeActorQueriesOptions {
  transport: Pick<Transport, 'subscribe' | 'publish'>;
  subjects: ActorSubjects;
  /** Reads committed state (the store's `get`), never a batch in progress. */
  read: <V>(namespace: string, key: string) => V | undefined;
  /** The actor's state namespace. */
  namespace: string;
  /** Queue group, so instances share queries. Default `<base subject>`. */
  queue?: string | undefined;
  logger?: Logger | undefined;
}

/**
 * Answers state queries for an actor on `<prefix>.<topology>.<actor>.<key>` (core NATS
 * request/reply). The request body is `{ op: 'state' }` (the default, also for an empty body) or
 * `{ op: 'status' }`, in msgpack or JSON (by its `Content-Type`). Answers are encoded with the
 * actor's codec:
 * - `state`: the committed state of the key, or `initial(key)` with `Sluice-Actor-Found: false`;
 * - `status`: an {@link ActorStatus}.
 * An unknown op, or a key past `MAX_ACTOR_KEY_BYTES`, gets an empty answer with `Nats-Service-Error` and
 * `Nats-Service-Error-Code: 400`.
 *
 * Answers come from LMDB's committed state, so they never show a batch in progress; they may lag
 * the input stream by the batches not yet processed. Returns the subscription; unsubscribe to stop.
 */
export function serveActorQueries<S, M, P>(def: ActorDefinition<S, M, P>, options: ServeActorQueriesOptions): Subscription {
  const { transport, subjects, read, namespace } = options;
  const codec = def.codec;
  const baseTokens = subjects.base.split('.').length;
  const answer = (to: string, body: unknown, headers: Record<string, string>): void => {
    transport.publish(to, codec.encode(body), { headers: { [HEADERS.contentType]: codec.contentType, ...headers } });
  };
  return transport.subscribe(subjects.queryPattern, { queue: options.queue ?? subjects.base }).subscribe((req) => {
    const to = req.reply;
    if (to === undefined) return;
    try {
      const token = req.subject.split('.')[baseTokens];
      if (token === undefined) throw new Error(`not an actor subject: ${req.subject}`);
      const key = keyFromToken(token);
      if (!keyFits(key, MAX_ACTOR_KEY_BYTES)) {
        answer(to, null, {
          [ACTOR_QUERY_HEADERS.error]: `the key is ${keyBytes(key)} bytes, longer than the ${MAX_ACTOR_KEY_BYTES} bytes an actor key may be`,
          [ACTOR_QUERY_HEADERS.errorCode]: '400',
        });
        return;
      }
      const op = opOf(req.data, req.headers[HEADERS.contentType]);
      const rec = read<ActorRecord<S>>(namespace, key);
      if (op === 'state') {
        const headers: Record<string, string> = { [ACTOR_QUERY_HEADERS.found]: String(rec !== undefined) };
        if (rec?.stop !== undefined) headers[ACTOR_QUERY_HEADERS.stopped] = 'true';
        answer(to, rec !== undefined ? rec.s : def.initial(key), headers);
      } else if (op === 'status') {
        const status: ActorStatus = { key, found: rec !== undefined, lastSeq: rec?.q ?? null, stopped: rec?.stop ?? null };
        answer(to, status, {});
      } else {
        answer(to, null, { [ACTOR_QUERY_HEADERS.error]: `unknown op ${JSON.stringify(op)}; use 'state' or 'status'`, [ACTOR_QUERY_HEADERS.errorCode]: '400' });
      }
    } catch (err) {
      const e = ensureError(err);
      options.logger?.warn({ actor: def.name, subject: req.subject, err: e.message }, 'actor state query failed');
      try {
        answer(to, null, { [ACTOR_QUERY_HEADERS.error]: `${e.name}: ${e.message}`.replace(/[\r\n]+/g, ' '), [ACTOR_QUERY_HEADERS.errorCode]: '500' });
      } catch {
        // The connection is going away; the asker times out.
      }
    }
  });
}

function opOf(data: Uint8Array, contentType: string | undefined): unknown {
  if (data.length === 0) return 'state';
  const codec = codecFor(contentType);
  if (codec === undefined) return undefined;
  const body = codec.decode(data) as { op?: unknown } | null;
  return body?.op ?? 'state';
}
