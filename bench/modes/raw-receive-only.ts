import { connect } from '@nats-io/transport-node';
import { type ModeFactory, natsCounters } from './mode.js';

/**
 * The floor of any processor that takes one NATS core message per event: a raw NATS v3 client
 * callback subscription that only counts the messages and their bytes. No decode, no routing, no
 * publish, so nothing reaches the driver (its latency and delivered figures are empty and every
 * drain waits out its timeout); only its CPU per event means anything. What it spends is the
 * socket reads, the client's protocol parser and one message object and callback per event,
 * which every design that subscribes to the per-event subject pays, however it batches later.
 */
export const start: ModeFactory = async (ctx) => {
  const nc = await connect({ servers: ctx.url, noAsyncTraces: true, name: 'bench-raw-receive-only' });
  let bytes = 0;
  nc.subscribe(ctx.inSubject, {
    callback: (err, msg) => {
      if (err === null) bytes += msg.data.length;
    },
  });
  await nc.flush();
  return {
    counters: natsCounters(nc),
    stop: async () => {
      await nc.drain();
      // Read so the count is not dead code an optimiser could drop.
      if (bytes < 0) throw new Error(`negative byte count ${bytes}`);
    },
  };
};
