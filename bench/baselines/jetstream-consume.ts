import { setTimeout as sleep } from 'node:timers/promises';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { Observable } from 'rxjs';
import { median, pair, rateOf, type BaselinePair } from './baseline-pair.js';

const IN_FLIGHT = 1000;

/** What this baseline needs of Sluice's NATS transport (src/transport/nats/nats-transport.ts). */
interface SluiceConsumeTransport {
  consume(options: { stream: string; durableName: string; maxInFlight: number }): Observable<{ ack(): void }>;
  close(): Promise<void>;
}
type ConnectTransport = (url: string) => Promise<SluiceConsumeTransport>;

/**
 * JetStream durable pull consumer, consume + ack every message, no decoding: the raw v3 client's
 * `consume({ max_messages: 1000 })` loop against Sluice's `transport.consume({ durableName,
 * maxInFlight: 1000 })`. The stream is filled once; each round reads all of it through a fresh
 * durable consumer.
 */
export async function jetstreamConsumeBaseline(url: string, pool: readonly Uint8Array[], events: number, prefix: string, rounds = 3): Promise<BaselinePair> {
  const nc = await connect({ servers: url, noAsyncTraces: true, name: 'bench-js-baseline' });
  const stream = `${prefix.replace(/\W/g, '_')}_JS`;
  const subject = `${prefix}.js.orders`;
  const connectSluice = await loadSluiceTransport();
  const raws: number[] = [];
  const sluices: number[] = [];
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [subject] });
    // Core publishes into the stream's subject: the fastest fill, and the fill is not measured.
    for (let i = 0; i < events; i++) {
      nc.publish(subject, pool[i % pool.length]);
      if (i % 5000 === 4999) await nc.flush();
    }
    await nc.flush();
    while ((await jsm.streams.info(stream)).state.messages < events) await sleep(50);

    const js = jetstream(nc);
    for (let r = 0; r < rounds; r++) {
      const durable = `raw_${r}`;
      await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit });
      const consumer = await js.consumers.get(stream, durable);
      raws.push(
        await rateOf(events, async () => {
          let n = 0;
          let done = () => {};
          const finished = new Promise<void>((resolve) => (done = resolve));
          // The callback form: the raw client's fastest consume, no async iterator step per message.
          const messages = await consumer.consume({
            max_messages: IN_FLIGHT,
            callback: (m) => {
              m.ack();
              if (++n === events) done();
            },
          });
          await finished;
          await messages.close();
        }),
      );
      if (connectSluice !== undefined) {
        const transport = await connectSluice(url);
        try {
          sluices.push(
            await rateOf(
              events,
              () =>
                new Promise<void>((resolve, reject) => {
                  let n = 0;
                  const sub = transport.consume({ stream, durableName: `sluice_${r}`, maxInFlight: IN_FLIGHT }).subscribe({
                    next: (m) => {
                      m.ack();
                      if (++n === events) {
                        sub.unsubscribe();
                        resolve();
                      }
                    },
                    error: reject,
                  });
                }),
            ),
          );
        } finally {
          await transport.close();
        }
      }
    }
    await jsm.streams.delete(stream);
  } finally {
    await nc.drain();
  }
  return pair({
    name: 'jetstream-consume-ack',
    work: `consume + ack ${events.toLocaleString('en')} messages from a file stream, ${IN_FLIGHT} in flight`,
    rawLabel: 'raw v3 client consume({ callback })',
    sluiceLabel: 'Sluice transport.consume()',
    raw: median(raws),
    sluice: sluices.length > 0 ? median(sluices) : null,
    events,
    rounds,
    note: connectSluice === undefined ? 'NatsTransport not available in this build' : undefined,
  });
}

/** Sluice's NATS transport, when this build has it (it is written in parallel with the bench). */
async function loadSluiceTransport(): Promise<ConnectTransport | undefined> {
  const path = '../../src/transport/nats/nats-transport.js';
  try {
    const mod = (await import(path)) as { NatsTransport?: { connect(o: { servers: string }): Promise<SluiceConsumeTransport> } };
    const NatsTransport = mod.NatsTransport;
    return NatsTransport === undefined ? undefined : (url) => NatsTransport.connect({ servers: url });
  } catch {
    return undefined;
  }
}
