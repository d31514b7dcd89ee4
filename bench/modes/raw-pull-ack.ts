import { AckPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { orderTarget, wirePackr, type OrderEvent } from '../workload.js';
import { createBenchStreams, deleteBenchStreams } from './bench-streams.js';
import { type ModeFactory, natsCounters } from './mode.js';

/** The same defaults as Sluice's stream source and durable sink, so both sides are set alike. */
const DEFAULTS = { maxUnsettled: 1000, ackWaitMs: 30_000, publishWindow: 256 } as const;

/**
 * Baseline for the at-least-once path: what a careful engineer writes by hand on the raw NATS v3
 * client. A durable pull consumer (`max_ack_pending` = `maxUnsettled`) read with the callback
 * form of `consume()`, msgpack decode, the routing rule, then:
 * - `durable: 0`: a core publish of the original bytes, then `ack()` (it travels behind the
 *   publish on the same connection);
 * - `durable: 1`: a JetStream publish with a message id derived from the input position, and
 *   `ack()` once the publish ack is back, with at most `publishWindow` publishes in flight.
 * Undecodable input goes to the dead-letter subject with its bytes, then is acked.
 */
export const start: ModeFactory = async (ctx) => {
  const durable = ctx.params['durable'] === 1;
  const maxUnsettled = ctx.params['maxUnsettled'] ?? DEFAULTS.maxUnsettled;
  const publishWindow = ctx.params['publishWindow'] ?? DEFAULTS.publishWindow;
  const streams = await createBenchStreams(ctx, { output: durable });
  const nc = await connect({ servers: ctx.url, noAsyncTraces: true, name: 'bench-raw-pull-ack' });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(streams.input, {
    durable_name: 'raw',
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: maxUnsettled,
    ack_wait: nanos(DEFAULTS.ackWaitMs),
  });
  const consumer = await js.consumers.get(streams.input, 'raw');
  const targets = {
    review: ctx.outSubject('review'),
    express: ctx.outSubject('express'),
    eu: ctx.outSubject('eu'),
    row: ctx.outSubject('row'),
  };

  let inFlight = 0;
  const waiting: [JsMsg, string][] = [];
  let idle: (() => void) | undefined;
  const publishThenAck = (m: JsMsg, subject: string): void => {
    inFlight++;
    js.publish(subject, m.data, { msgID: `raw.sink.${m.info.stream}:${m.info.streamSequence}.0` }).then(
      () => settled(m, true),
      () => settled(m, false),
    );
  };
  const settled = (m: JsMsg, ok: boolean): void => {
    if (ok) m.ack();
    else m.nak(1000);
    inFlight--;
    const next = waiting.shift();
    if (next !== undefined) publishThenAck(next[0], next[1]);
    else if (inFlight === 0) idle?.();
  };

  const messages = await consumer.consume({
    max_messages: maxUnsettled,
    callback: (m) => {
      let order: OrderEvent;
      try {
        order = wirePackr.unpack(m.data) as OrderEvent;
      } catch {
        nc.publish(ctx.deadLetterSubject, m.data);
        m.ack();
        return;
      }
      const subject = targets[orderTarget(order)];
      if (!durable) {
        nc.publish(subject, m.data);
        m.ack();
      } else if (inFlight < publishWindow) publishThenAck(m, subject);
      else waiting.push([m, subject]);
    },
  });
  return {
    counters: natsCounters(nc),
    stop: async () => {
      await messages.close();
      if (inFlight > 0) await new Promise<void>((resolve) => (idle = resolve));
      await nc.drain();
      await deleteBenchStreams(ctx.url, streams);
    },
  };
};
