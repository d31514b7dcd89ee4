/**
 * Latency of `check` with 100 requests in flight, results in input order vs as they complete,
 * against hand-written code (a Promise per request), over a real nats-server. The service answers
 * after a seeded, skewed delay (most requests fast, one in ten slow), as a fraud-rules service
 * with a cache does: in input order, a fast result waits behind every slower one before it.
 *
 * Closed loop: a new request starts whenever a result comes out, so `inFlight` stay outstanding.
 * Latency = from the request's start until its result comes out of the operator.
 *
 * Run: node --import tsx bench/check-in-flight.bench.ts [--requests 5000] [--in-flight 100] [--rounds 2]
 * Prints one JSON line per mode and round. Compare lines of one run (shared machine: noisy).
 */
import { pathToFileURL } from 'node:url';
import { from, map, Subject } from 'rxjs';
import { check } from '../operators/check.js';
import { makeEnvelope } from '../src/envelope/make-envelope.js';
import type { Envelope } from '../src/envelope/envelope.js';
import { msgpackCodec } from '../src/codec/msgpack-codec.js';
import { startNatsServer } from '../src/runtime/nats-server-process.js';
import { NatsTransport } from '../src/transport/nats/nats-transport.js';
import { createLatencyHistogram } from './latency-histogram.js';

type Mode = 'ordered' | 'unordered' | 'hand-written';

/** Deterministic service delay for request `n`: 90% 0.5-3 ms, 10% 20-60 ms. */
function serviceDelayMs(n: number): number {
  let x = (n * 2654435761) >>> 0;
  x ^= x >>> 13;
  const r = ((x * 1597334677) >>> 0) / 2 ** 32;
  return r < 0.9 ? 0.5 + (r / 0.9) * 2.5 : 20 + ((r - 0.9) / 0.1) * 40;
}

export async function runCheckBench(transport: NatsTransport, mode: Mode, requests: number, inFlight: number): Promise<string> {
  const hist = createLatencyHistogram();
  const startedAt = new Map<number, number>();
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    let sent = 0;
    let done = 0;
    const finish = (n: number): void => {
      hist.record(performance.now() - startedAt.get(n)!);
      startedAt.delete(n);
      if (++done === requests) resolve();
    };
    const ask = (n: number) => transport.request('bench.fraud', msgpackCodec.encode({ n }), { timeoutMs: 5_000 });
    if (mode === 'hand-written') {
      const next = (): void => {
        if (sent >= requests) return;
        const n = sent++;
        startedAt.set(n, performance.now());
        ask(n).then(() => (finish(n), next()), reject);
      };
      for (let i = 0; i < inFlight; i++) next();
      return;
    }
    const input = new Subject<Envelope<{ n: number }>>();
    const push = (): void => {
      if (sent >= requests) return input.complete();
      const n = sent++;
      startedAt.set(n, performance.now());
      input.next(makeEnvelope({ subject: 'bench.in', data: { n } }));
    };
    input
      .pipe(
        check<{ n: number }, Envelope<Uint8Array>>({
          name: 'bench',
          request: (env) => from(ask(env.data.n)),
          timeoutMs: 5_000,
          onTimeout: 'deny',
          onError: 'deny',
          maxInFlight: inFlight,
          ordered: mode === 'ordered',
        }),
        map((c) => c.envelope.data.n),
      )
      .subscribe({
        next: (n) => {
          finish(n);
          push();
        },
        error: reject,
      });
    for (let i = 0; i < inFlight; i++) push();
  });
  const ms = performance.now() - started;
  const s = hist.summary();
  return JSON.stringify({
    bench: `check-in-flight/${mode}`,
    date: new Date().toISOString(),
    node: process.version,
    requests,
    inFlight,
    p50Ms: s.p50,
    p99Ms: s.p99,
    maxMs: s.max,
    perSec: Math.round((requests / ms) * 1000),
  });
}

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const server = await startNatsServer({ binary: process.env['NATS_SERVER_BIN'] ?? '/usr/sbin/nats-server' });
  const service = await NatsTransport.connect({ servers: server.url });
  const client = await NatsTransport.connect({ servers: server.url });
  try {
    // The service: answers each request after its delay.
    const sub = service.subscribe('bench.fraud').subscribe((req) => {
      const { n } = msgpackCodec.decode(req.data) as { n: number };
      setTimeout(() => service.publish(req.reply!, msgpackCodec.encode({ ok: true })), serviceDelayMs(n));
    });
    await service.flush();
    const requests = arg('requests', 5_000);
    const inFlight = arg('in-flight', 100);
    for (let round = 0; round < arg('rounds', 2); round++) {
      for (const mode of ['ordered', 'unordered', 'hand-written'] as const) console.log(await runCheckBench(client, mode, requests, inFlight));
    }
    sub.unsubscribe();
  } finally {
    await client.close();
    await service.close();
    await server.dispose();
  }
}
