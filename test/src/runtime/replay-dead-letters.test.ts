import { pino } from 'pino';
import { filter, map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import type { Envelope } from '../../../src/envelope/envelope.js';
import { TerminalError } from '../../../src/errors.js';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import { replayDeadLetters } from '../../../src/runtime/replay-dead-letters.js';
import { runTopology } from '../../../src/runtime/run-topology.js';
import { LocalTransport } from '../../../src/transport/local-transport.js';

describe('replayDeadLetters', () => {
  it('re-publishes the original bytes and headers on the original subject, from a sequence, with a filter', async () => {
    const transport = new LocalTransport();
    const run = await runTopology(
      defineTopology('picky', (t) =>
        t.source<number>('n.>').pipe(
          filter((e) => (e.data % 2 === 1 ? (t.deadLetter(e, new TerminalError(`odd: ${e.data}`)), false) : true)),
          map((e) => e.data),
          t.sink('n.even'),
        ),
      ),
      { transport, logger: pino({ level: 'silent' }), closeTransport: false },
    );
    await transport.flush();
    for (const [subject, n] of [['n.a', 1], ['n.b', 2], ['n.a', 3], ['n.c', 5]] as const) {
      transport.publish(subject, msgpackCodec.encode(n), { headers: { 'Content-Type': 'application/msgpack', 'X-Trace': `t${n}` } });
    }
    await transport.flush();
    await transport.flush();
    await run.stop();

    const seen: Envelope<Uint8Array>[] = [];
    const sub = transport.subscribe('n.*').subscribe((e) => seen.push(e));
    const first = await replayDeadLetters(transport, 'picky', { subject: 'n.a' });
    expect(first).toEqual({ replayed: 2, skipped: 1, nextSeq: 4 });
    expect(seen.map((e) => [e.subject, msgpackCodec.decode(e.data), e.headers['X-Trace']])).toEqual([['n.a', 1, 't1'], ['n.a', 3, 't3']]);
    expect(await replayDeadLetters(transport, 'picky', { fromSeq: first.nextSeq })).toEqual({ replayed: 0, skipped: 0, nextSeq: 4 });
    expect(await replayDeadLetters(transport, 'picky', { fromSeq: 3, limit: 1 })).toEqual({ replayed: 1, skipped: 0, nextSeq: 4 });
    await expect(replayDeadLetters(transport, 'picky', { limit: 0 })).rejects.toThrow(/'limit' must be an integer >= 1/);
    sub.unsubscribe();
    await transport.close();
  });
});
