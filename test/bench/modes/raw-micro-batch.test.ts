import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningMode } from '../../../bench/modes/mode.js';
import { start } from '../../../bench/modes/raw-micro-batch.js';
import { makeOrderPool, orderTarget, wirePackr, type OrderEvent } from '../../../bench/workload.js';
import { modeContextFor } from './mode-context.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { until } from '../../helpers/until.js';

/** What reached the out subjects and the dead-letter subject of one mode run. */
interface Seen {
  out: { subject: string; orders: OrderEvent[] }[];
  deadLetters: Uint8Array[];
}

describe('bench mode raw-micro-batch (hand-written batch baseline)', () => {
  const server = useNatsServer();
  let nc: NatsConnection;
  beforeAll(async () => {
    nc = await connect({ servers: server().url });
  });
  afterAll(async () => {
    await nc.close();
  });
  const pool = makeOrderPool({ poolSize: 64, seed: 7 });

  async function run(params: Record<string, number>, payloads: readonly Uint8Array[], expectOut: number): Promise<{ seen: Seen; mode: RunningMode }> {
    const prefix = uniqueName('rawbatch');
    const ctx = modeContextFor(server().url, prefix, params);
    const seen: Seen = { out: [], deadLetters: [] };
    nc.subscribe(`${prefix}.out.>`, {
      callback: (_e, m) => {
        seen.out.push({ subject: m.subject, orders: wirePackr.unpack(m.data) as OrderEvent[] });
      },
    });
    nc.subscribe(ctx.deadLetterSubject, {
      callback: (_e, m) => {
        seen.deadLetters.push(m.data);
      },
    });
    await nc.flush();
    const mode = await start(ctx);
    for (const p of payloads) nc.publish(ctx.inSubject, p);
    await nc.flush();
    await until(() => seen.out.reduce((n, o) => n + o.orders.length, 0) >= expectOut);
    return { seen, mode };
  }

  it('routes every order by orderTarget into one MessagePack array per target per batch, and dead-letters what does not decode', async () => {
    const bad = Uint8Array.of(0x85, 0xa1); // a map of 5 entries cut short
    const payloads = [...pool.slice(0, 12), bad, ...pool.slice(12, 25)];
    const { seen, mode } = await run({ maxCount: 10, maxWaitMs: 50 }, payloads, 25);
    await until(() => seen.deadLetters.length === 1);
    await mode.stop();

    expect(Uint8Array.from(seen.deadLetters[0]!)).toEqual(bad);
    const want = pool.slice(0, 25).map((b) => wirePackr.unpack(b) as OrderEvent);
    const got = seen.out.flatMap((o) => o.orders);
    expect(got.map((o) => o.id).sort()).toEqual(want.map((o) => o.id).sort());
    for (const o of seen.out) for (const order of o.orders) expect(o.subject.endsWith(`.out.${orderTarget(order)}`)).toBe(true);
    // Three batches (10, 10, 6 with the bad one), at most one message per target in each.
    expect(seen.out.length).toBeLessThanOrEqual(3 * 4);
    expect(new Set(seen.out.map((o) => o.subject)).size).toBeGreaterThan(1);
  });

  it('with periodMs, cuts on a timer and publishes the held batch chunk by chunk', async () => {
    const started = Date.now();
    const { seen, mode } = await run({ periodMs: 300, chunk: 8 }, pool.slice(0, 40), 40);
    const took = Date.now() - started;
    await mode.stop();

    expect(took).toBeGreaterThanOrEqual(250);
    expect(
      seen.out
        .flatMap((o) => o.orders)
        .map((o) => o.id)
        .sort(),
    ).toEqual(
      pool
        .slice(0, 40)
        .map((b) => (wirePackr.unpack(b) as OrderEvent).id)
        .sort(),
    );
    // Five chunks of 8: each chunk's messages hold at most 8 orders.
    for (const o of seen.out) expect(o.orders.length).toBeLessThanOrEqual(8);
    expect(seen.deadLetters).toEqual([]);
  });

  it('publishes what it holds when stopped before the cut', async () => {
    const prefix = uniqueName('rawbatchstop');
    const ctx = modeContextFor(server().url, prefix, { periodMs: 60_000 });
    let out = 0;
    nc.subscribe(`${prefix}.out.>`, {
      callback: (_e, m) => {
        out += (wirePackr.unpack(m.data) as unknown[]).length;
      },
    });
    await nc.flush();
    const mode = await start(ctx);
    for (const p of pool.slice(0, 5)) nc.publish(ctx.inSubject, p);
    await nc.flush();
    await until(() => mode.counters().natsMsgs >= 5);
    await mode.stop();
    await until(() => out === 5);
  });
});
