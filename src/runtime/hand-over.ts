import { concat, defer, ignoreElements, type Observable } from 'rxjs';
import { HEADERS, type Envelope } from '../envelope/envelope.js';
import { mergeMarked } from '../observe/lineage.js';
import type { StreamConfig } from '../transport/transport.js';
import type { TopologyContext } from './types.js';

/** An input on its way into a mounted part's own stream, as the runtime's sink routes it. */
export interface HandedOver {
  readonly kind: 'routed';
  readonly to: string;
  readonly envelope: Envelope<unknown>;
}

/**
 * The input `env` addressed to `to` in a part's own stream: re-encoded from `data` (not `raw`: a
 * stage before may have changed the data and kept the bytes), with its subject in
 * `Sluice-Origin-Subject`. `headers` are added; `envelope` overrides envelope fields.
 */
export function handedOver(
  env: Envelope<unknown>,
  to: string,
  headers: Readonly<Record<string, string>> = {},
  envelope: Partial<Envelope<unknown>> = {},
): HandedOver {
  return {
    kind: 'routed',
    to,
    envelope: { ...env, ...envelope, raw: undefined, headers: { ...env.headers, [HEADERS.originSubject]: env.subject, ...headers } },
  };
}

/**
 * Runs the hand-over of a mounted part (actor, durable batch, durable window): its own stream is
 * created (or extended) first, then every lane goes through one durable sink whose message ids
 * derive from the input positions, so an input re-read after a crash is dropped as a duplicate
 * and the part's stream holds each input once. The lanes are merged so `describe` follows each.
 */
export function runHandOver(
  deps: { readonly ctx: Pick<TopologyContext, 'transport' | 'sink'>; readonly run: (part: Observable<unknown>, name: string) => void },
  part: { stream: StreamConfig; sinkName: string; sinkSubjects: readonly string[]; label: string },
  lanes: readonly Observable<HandedOver>[],
): void {
  const { ctx } = deps;
  const ensure = defer(() => ctx.transport.ensureStream(part.stream)).pipe(ignoreElements());
  const handOver = mergeMarked(lanes).pipe(ctx.sink(undefined, { durable: true, name: part.sinkName, subjects: part.sinkSubjects }));
  deps.run(concat(ensure, handOver), `${part.label} (hand-over)`);
}
