/**
 * Sluice's own CPU per event on the batch paths, in process and without NATS: raw envelopes as
 * the core transport makes them go in, output payloads come out (publish counts bytes). What the
 * paired bench (batch-cost.bench.ts) cannot resolve on a loaded machine, this shows in seconds;
 * it leaves out the client's parsing and the socket writes, so its ratios are not the issue's.
 *
 * - `route`: decode each message, `route`, publish each event's bytes (the route mode);
 * - `micro-batch-decode-on-arrival`: decode and route each message, hold target and bytes,
 *   `microBatch`, one payload per target per batch (the micro-batch mode before `decodeBatch`);
 * - `micro-batch`: hold the messages undecoded, `microBatch`, `decodeBatch`, route in a loop, one
 *   payload per target per batch (the micro-batch mode);
 * - `triggered-decode-on-arrival` and `triggered`: the same two ways around an in-memory
 *   `batchUntil` cut every 20,000 events (2 s at 10,000 ev/s), read in chunks of 1000.
 *
 * Run: node --conditions=sluice-source --import tsx bench/batch-path.bench.ts [--events 200000] [--rounds 7]
 * Prints the median and minimum ns per event of each path over interleaved rounds.
 */
import { concatMap, EMPTY, finalize, map, of, Subject, tap, type Observable } from 'rxjs';
import { batchUntil } from '../operators/batch-until.js';
import { onCount } from '../operators/on-count.js';
import { decodeBatch } from '../operators/decode-batch.js';
import { microBatch } from '../operators/micro-batch.js';
import { route } from '../operators/route.js';
import { decodeEnvelope } from '../src/codec/decode-envelope.js';
import type { Envelope } from '../src/envelope/envelope.js';
import { uniqueId } from '../src/envelope/unique-id.js';
import type { TopologyContext } from '../src/runtime/types.js';
import { median } from './baselines/baseline-pair.js';
import { batchPayloads, decodedToBatchItems, routeToBatchItems } from './modes/batch-payload.js';
import type { ModeContext } from './modes/mode.js';
import { orderRouteConfig } from './modes/order-routing.js';
import { makeOrderPool, type OrderEvent } from './workload.js';

const arg = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const events = arg('events', 200_000);
const rounds = arg('rounds', 7);
const pool = makeOrderPool({ minBytes: 100, maxBytes: 1024, seed: 1 });
const ctx = { outSubject: (target: string) => `out.${target}`, params: {} } as unknown as ModeContext;
let publishedBytes = 0;
const publish = (_to: string, payload: Uint8Array): void => void (publishedBytes += payload.length);
const t = { deadLetter: () => undefined, transport: { publish } } as unknown as TopologyContext;

// The shape natsCoreEnvelope gives a message without headers.
const envelopeOf = (i: number): Envelope<Uint8Array> => ({
  subject: 'orders.in',
  data: pool[i % pool.length]!,
  headers: {},
  id: uniqueId(),
  key: undefined,
  eventTime: Date.now(),
  stream: undefined,
  seq: undefined,
  reply: undefined,
  raw: undefined,
});

const paths: Record<string, (in$: Observable<Envelope<Uint8Array>>) => Observable<unknown>> = {
  route: (in$) =>
    in$.pipe(
      map((e) => decodeEnvelope<OrderEvent>(e)),
      route(orderRouteConfig(ctx)),
      tap((r) => (r.kind === 'routed' ? publish(r.to, r.envelope.raw!) : undefined)),
    ),
  'micro-batch-decode-on-arrival': (in$) =>
    in$.pipe(
      map((e) => decodeEnvelope<OrderEvent>(e)),
      routeToBatchItems(t, ctx),
      microBatch({ maxCount: 1000, maxWaitMs: 100 }),
      tap((batch) => batchPayloads(batch).forEach(([to, payload]) => publish(to, payload))),
    ),
  'micro-batch': (in$) =>
    in$.pipe(
      microBatch({ maxCount: 1000, maxWaitMs: 100 }),
      decodeBatch<OrderEvent>({ name: 'orders' }),
      decodedToBatchItems(t, ctx),
      tap((batch) => batchPayloads(batch).forEach(([to, payload]) => publish(to, payload))),
    ),
  'triggered-decode-on-arrival': (in$) =>
    in$.pipe(
      map((e) => decodeEnvelope<OrderEvent>(e)),
      routeToBatchItems(t, ctx),
      batchUntil(onCount(20_000), { name: 'orders' }),
      concatMap((batch) =>
        batch
          .processChunks(1000, (chunk) => {
            batchPayloads(chunk).forEach(([to, payload]) => publish(to, payload));
            return EMPTY;
          })
          .pipe(finalize(() => batch.release())),
      ),
    ),
  triggered: (in$) => {
    const decode = decodeBatch<OrderEvent>({ name: 'orders' });
    const toItems = decodedToBatchItems(t, ctx);
    return in$.pipe(
      batchUntil(onCount(20_000), { name: 'orders' }),
      concatMap((batch) =>
        batch
          .processChunks(1000, (chunk) =>
            of(chunk).pipe(
              decode,
              toItems,
              tap((items) => batchPayloads(items).forEach(([to, payload]) => publish(to, payload))),
            ),
          )
          .pipe(finalize(() => batch.release())),
      ),
    );
  },
};

const nsPerEvent: Record<string, number[]> = {};
for (let round = 0; round < rounds; round++) {
  for (const [name, path] of Object.entries(paths)) {
    const in$ = new Subject<Envelope<Uint8Array>>();
    const sub = path(in$).subscribe();
    const start = process.cpuUsage();
    for (let i = 0; i < events; i++) in$.next(envelopeOf(i));
    in$.complete();
    const used = process.cpuUsage(start);
    sub.unsubscribe();
    (nsPerEvent[name] ??= []).push(((used.user + used.system) * 1000) / events);
  }
}
for (const [name, ns] of Object.entries(nsPerEvent)) {
  process.stdout.write(`${name}: ${median(ns).toFixed(0)} ns/event (min ${Math.min(...ns).toFixed(0)}) over ${rounds} rounds of ${events}\n`);
}
process.stdout.write(`(${publishedBytes} bytes published)\n`);
