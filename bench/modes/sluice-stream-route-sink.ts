import { route } from '../../operators/route.js';
import type { OrderEvent } from '../workload.js';
import { createBenchStreams, deleteBenchStreams } from './bench-streams.js';
import type { ModeFactory } from './mode.js';
import { orderRouteConfig } from './order-routing.js';
import { runSluiceTopology } from './sluice-topology.js';

/**
 * The at-least-once pipeline as a topology author writes it: `t.stream(STREAM, subject)` (a
 * durable consumer; each message is acked once its output is published) → `route` →
 * `t.sink()`. Params:
 * - `durable: 1`: `t.sink(undefined, { durable: true })`, so the input is acked only after the
 *   output's JetStream publish ack, and outputs carry exactly-once ids (`Nats-Msg-Id`);
 * - `ordered: 1`: the path before settlements, `t.stream(..., { ordered: true })` (an ordered
 *   consumer, nothing acked: at-most-once);
 * - `maxUnsettled`: the stream source's bound (default 1000).
 */
export const start: ModeFactory = async (ctx) => {
  const durable = ctx.params['durable'] === 1;
  const ordered = ctx.params['ordered'] === 1;
  const maxUnsettled = ctx.params['maxUnsettled'];
  const streams = await createBenchStreams(ctx, { output: durable });
  const name = `bench-stream${ordered ? '-ordered' : ''}${durable ? '-durable' : ''}`;
  const running = await runSluiceTopology(ctx, name, (t) =>
    t.stream<OrderEvent>(streams.input, ctx.inSubject, { ordered, maxUnsettled }).pipe(route(orderRouteConfig(ctx)), t.sink(undefined, { durable })),
  );
  return {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- a closure, not a method
    counters: running.counters,
    stop: async () => {
      await running.stop();
      await deleteBenchStreams(ctx.url, streams);
    },
  };
};
