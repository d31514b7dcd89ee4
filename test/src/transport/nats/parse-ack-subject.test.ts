import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAckSubject } from '../../../../src/transport/nats/parse-ack-subject.js';

/** The v3 client's reading of an ack subject (`JsMsg.info`), as a reference model. */
function clientInfo(reply: string): { stream: string; streamSequence: number; deliveryCount: number } | undefined {
  const tokens = reply.split('.');
  if (tokens.length === 9) tokens.splice(2, 0, '_', '');
  if (tokens.length < 11 || tokens[0] !== '$JS' || tokens[1] !== 'ACK') return undefined;
  return { stream: tokens[4]!, deliveryCount: parseInt(tokens[6]!, 10), streamSequence: parseInt(tokens[7]!, 10) };
}

const token = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);
const count = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });

describe('parseAckSubject', () => {
  it('reads the nats-server 2.9 form', () => {
    expect(parseAckSubject('$JS.ACK.ORDERS.sluice_t_ORDERS.3.1042.977.1796390379574938052.12')).toEqual({
      stream: 'ORDERS',
      streamSequence: 1042,
      deliveryCount: 3,
    });
  });

  it('reads the 2.10+ form, with and without the random suffix', () => {
    expect(parseAckSubject('$JS.ACK._.ACCHASH.ORDERS.reader.1.7.7.1796390379574938052.0')).toEqual({ stream: 'ORDERS', streamSequence: 7, deliveryCount: 1 });
    expect(parseAckSubject('$JS.ACK.hub.ACCHASH.ORDERS.reader.2.8.9.1796390379574938052.0.x1y2')).toEqual({
      stream: 'ORDERS',
      streamSequence: 8,
      deliveryCount: 2,
    });
  });

  it('agrees with the client on every well-formed subject of either form', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.boolean(),
        token,
        token,
        token,
        count,
        count,
        count,
        count,
        (newForm, suffix, stream, consumer, domain, delivered, sseq, dseq, pending) => {
          const head = newForm ? `$JS.ACK.${domain}.HASH.${stream}.${consumer}` : `$JS.ACK.${stream}.${consumer}`;
          const reply = `${head}.${delivered}.${sseq}.${dseq}.1796390379574938052.${pending}${newForm && suffix ? '.rnd' : ''}`;
          expect(parseAckSubject(reply)).toEqual(clientInfo(reply));
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS ?? 200) },
    );
  });

  it('leaves anything else to the client (undefined)', () => {
    for (const reply of [
      '',
      '_INBOX.abc',
      '$JS.ACK.S.c.1.2.3.4',
      '$JS.ACK.S.c.1.2.3.4.5.6',
      '$JS.ACK.a.b.S.c.1.2.3.4.5.6.7',
      '$JS.ACK..c.1.2.3.4.5',
      '$JS.ACK.S.c.x.2.3.4.5',
      '$JS.ACK.S.c.1..3.4.5',
      '$JS.NAK.S.c.1.2.3.4.5',
    ]) {
      expect(parseAckSubject(reply), reply).toBeUndefined();
    }
  });
});
