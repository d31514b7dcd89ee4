import { connect } from '@nats-io/transport-node';
import { orderTarget, wirePackr, type OrderEvent } from '../workload.js';
import { type ModeFactory, natsCounters } from './mode.js';

/**
 * Baseline: what a careful engineer writes by hand on the raw NATS v3 client. One callback
 * subscription, msgpack decode, the same routing rule, publish the original bytes. Undecodable
 * input goes to the dead-letter subject with its bytes, like Sluice does.
 */
export const start: ModeFactory = async (ctx) => {
  const nc = await connect({ servers: ctx.url, noAsyncTraces: true, name: 'bench-raw-forwarder' });
  const targets = {
    review: ctx.outSubject('review'),
    express: ctx.outSubject('express'),
    eu: ctx.outSubject('eu'),
    row: ctx.outSubject('row'),
  };
  nc.subscribe(ctx.inSubject, {
    callback: (err, msg) => {
      if (err !== null) return;
      let order: OrderEvent;
      try {
        order = wirePackr.unpack(msg.data) as OrderEvent;
      } catch {
        nc.publish(ctx.deadLetterSubject, msg.data);
        return;
      }
      nc.publish(targets[orderTarget(order)], msg.data);
    },
  });
  await nc.flush();
  return {
    counters: natsCounters(nc),
    stop: () => nc.drain(),
  };
};
