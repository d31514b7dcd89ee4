import { firstValueFrom, map, Subject, tap } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEnvelope } from '../../src/envelope/make-envelope.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import { batchUntil } from '../../operators/batch-until.js';
import { onSubject } from '../../operators/on-subject.js';
import { uniqueName, useNatsServer } from '../helpers/nats-server.js';

const ts = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const eod = makeEnvelope({ subject: 'ops.end-of-day', data: null, id: 'e' });

describe('onSubject', () => {
  it('fires on each event, with the event subject as reason by default', () =>
    ts().run(({ cold, hot, expectObservable }) => {
      const op = batchUntil<string>(onSubject(hot('--e', { e: eod })), { name: 's' });
      expectObservable(
        cold('ab-c|').pipe(
          op,
          map((b) => `${b.reason}:${b.items().join('')}`),
        ),
      ).toBe('--x-(y|)', {
        x: 'ops.end-of-day:ab',
        y: 'complete:c',
      });
    }));

  it('subscribes to the events only while the batch operator is subscribed', () => {
    const events = new Subject<typeof eod>();
    const sub = new Subject<string>().pipe(batchUntil(onSubject(events), { name: 's' })).subscribe();
    expect(events.observed).toBe(true);
    sub.unsubscribe();
    expect(events.observed).toBe(false);
  });

  it('rejects a non-observable', () => expect(() => onSubject(undefined as never)).toThrow(/events\$/));

  describe('against a real nats-server', () => {
    const server = useNatsServer();
    let transport: NatsTransport;
    beforeAll(async () => {
      transport = await NatsTransport.connect({ servers: server().url, name: 'on-subject-test' });
    });
    afterAll(async () => {
      await transport?.close();
    });

    it('an end-of-day message on a core subject flushes the orders consumed from a stream', async () => {
      const stream = uniqueName('ORDERS');
      const eodSubject = `${uniqueName('ops')}.end-of-day`;
      await transport.ensureStream({ name: stream, subjects: [`${stream}.>`] });
      for (let i = 1; i <= 5; i++) await transport.publishDurable(`${stream}.created`, new TextEncoder().encode(`o${i}`));

      let consumed = 0;
      let allConsumed!: () => void;
      const fiveConsumed = new Promise<void>((resolve) => (allConsumed = resolve));
      const batchP = firstValueFrom(
        transport.consume({ stream }).pipe(
          tap(() => ++consumed === 5 && allConsumed()),
          batchUntil(onSubject(transport.subscribe(eodSubject)), { name: 'eod' }),
        ),
      );
      await fiveConsumed;
      transport.publish(eodSubject, new Uint8Array());
      const batch = await batchP;
      expect([batch.batchId, batch.reason, batch.count, batch.firstSeq, batch.lastSeq]).toEqual(['eod:1', eodSubject, 5, 1, 5]);
      expect(batch.items().map((m) => new TextDecoder().decode(m.data))).toEqual(['o1', 'o2', 'o3', 'o4', 'o5']);
      batch.release();
    });
  });
});
