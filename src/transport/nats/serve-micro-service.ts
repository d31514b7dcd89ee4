import type { NatsConnection } from '@nats-io/nats-core';
import { Svcm, type ServiceMsg } from '@nats-io/services';
import { ensureError } from '../../errors.js';
import type { Transport } from '../transport.js';

/** One endpoint of a micro service: what it answers, as JSON, to one request's body. */
export interface MicroServiceEndpoint {
  readonly name: string;
  readonly subject: string;
  /** A throw answers with the service error headers: `errorCode(err)` and the error's message. */
  readonly answer: (data: Uint8Array) => unknown;
}

/** What {@link serveMicroService} registers. */
export interface MicroServiceSpec {
  readonly name: string;
  readonly version: string;
  readonly description: string;
  readonly metadata: Record<string, string>;
  /** The `data` of `$SRV.STATS` for the endpoint on `subject` (null for none). */
  readonly statsOf: (subject: string) => Promise<unknown>;
  readonly endpoints: readonly MicroServiceEndpoint[];
  /** The HTTP-like code an endpoint's error answers with (400, 403, 404, 500...). */
  readonly errorCode: (err: Error) => number;
}

/**
 * Registers a NATS micro service (`nats micro ls`, `info`, `stats`, `ping`) on the transport's
 * connection, so code above the Transport need not hold the NATS client. Resolves once the server
 * has the subscriptions: a caller that then asks on another connection finds the service instead of
 * "no responders". Resolves to undefined on a transport without a NATS connection (in-process),
 * which has no `$SRV`. Instances of one service share a queue group, so one of them answers.
 */
export async function serveMicroService(transport: Transport, spec: MicroServiceSpec): Promise<{ stop(): Promise<void> } | undefined> {
  // Duck-typed, not `instanceof NatsTransport`: wrappers (tests' fault injection) pass `nc` on.
  const nc = (transport as { nc?: NatsConnection }).nc;
  if (nc === undefined) return undefined;
  const service = await new Svcm(nc).add({
    name: spec.name,
    version: spec.version,
    description: spec.description,
    metadata: spec.metadata,
    statsHandler: (endpoint) => spec.statsOf(endpoint.subject),
  });
  for (const endpoint of spec.endpoints) {
    service.addEndpoint(endpoint.name, {
      subject: endpoint.subject,
      handler: (err: Error | null, msg: ServiceMsg) => {
        if (err !== null) return;
        void (async () => {
          try {
            msg.respond(JSON.stringify(await endpoint.answer(msg.data)));
          } catch (e) {
            const error = ensureError(e);
            msg.respondError(spec.errorCode(error), error.message);
          }
        })();
      },
    });
  }
  await nc.flush();
  return {
    stop: async () => {
      await service.stop();
    },
  };
}
