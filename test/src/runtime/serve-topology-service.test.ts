import { Svcm } from '@nats-io/services';
import { pino } from 'pino';
import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import { runTopology } from '../../../src/runtime/run-topology.js';
import { serviceSubject } from '../../../src/runtime/serve-topology-service.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';

describe('topology micro service (real nats-server)', () => {
  const server = useNatsServer();

  it('answers stats, describe and the recent dead letters, and is listed as a NATS micro service', async () => {
    const name = uniqueName('svc').replace(/_/g, '-');
    const input = `${name}.in`;
    const transport = await NatsTransport.connect({ servers: server().url });
    const run = await runTopology(
      defineTopology(name, (t) =>
        t.source<number>(input).pipe(
          map((e) => e.data * 2),
          t.sink(`${name}.out`),
        ),
      ),
      { transport, logger: pino({ level: 'silent' }), allowControl: true },
    );
    const client = await NatsTransport.connect({ servers: server().url });
    try {
      await transport.flush();
      client.publish(input, msgpackCodec.encode(21));
      client.publish(input, new Uint8Array([0x92, 0x01]));
      await client.flush();
      const ask = async (subject: string, body = '') =>
        JSON.parse(new TextDecoder().decode((await client.request(subject, new TextEncoder().encode(body), { timeoutMs: 5000 })).data)) as Record<
          string,
          unknown
        >;
      let stats: Record<string, unknown> = {};
      for (let i = 0; i < 50 && stats.deadLetters !== 1; i++) stats = await ask(serviceSubject(name, 'stats'));
      expect(stats).toMatchObject({ received: { [input]: 2 }, published: { [`${name}.out`]: 1 }, deadLetters: 1 });
      expect(await ask(serviceSubject(name, 'describe'))).toMatchObject({
        nodes: [
          { kind: 'source', subject: input },
          { kind: 'sink', subject: `${name}.out` },
        ],
      });
      const dead = await ask(serviceSubject(name, 'dead-letters'), '{"limit":5}');
      expect(dead).toMatchObject({ stream: `SLUICE_DLQ_${name}`, messages: 1, recent: [{ seq: 1, subject: input, error: { name: 'DecodeError' } }] });

      const replays: number[] = [];
      const replaySub = client.subscribe(input).subscribe((e) => replays.push(e.data.length));
      await client.flush();
      expect(await ask(serviceSubject(name, 'replay'), '{"fromSeq":1}')).toMatchObject({
        replayed: 1,
        skipped: 0,
        failed: [],
        records: [{ seq: 1, subject: input, attempt: 1 }],
      });
      await client.flush();
      expect(replays).toEqual([2]); // the original two bytes, on the original subject
      replaySub.unsubscribe();
      const refused = await client.request(serviceSubject(name, 'replay'), new TextEncoder().encode('{oops'), { timeoutMs: 5000 });
      expect(refused.headers['Nats-Service-Error-Code']).toBe('400');

      const pings = await new Svcm(client.nc).client().ping(`sluice-${name}`);
      const found: string[] = [];
      for await (const p of pings) found.push(p.name);
      expect(found).toEqual([`sluice-${name}`]);
    } finally {
      await run.stop();
      await client.close();
    }
  });
});
