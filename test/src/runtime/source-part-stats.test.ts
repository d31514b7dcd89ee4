import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { map, merge, of, throwError } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { check } from '../../../operators/check.js';
import { fileDrop } from '../../../operators/file-drop.js';
import { poll } from '../../../operators/poll.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import type { PartReading } from '../../../src/observe/part-stats.js';
import { runTopology } from '../../../src/runtime/run-topology.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { until } from '../../helpers/until.js';

const server = useNatsServer();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('per-part stats of t.respond, t.schedule, poll, fileDrop and check (real nats-server)', () => {
  it('each reports its own part: requests and replies, runs, items and rounds, files, answers and fallbacks', { timeout: 60_000 }, async () => {
    const name = uniqueName('srcstats').replace(/_/g, '-');
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-srcstats-'));
    const inbox = mkdtempSync(join(tmpdir(), 'sluice-srcstats-inbox-'));
    dirs.push(stateDir, inbox);
    writeFileSync(join(inbox, 'a.csv'), 'a');
    writeFileSync(join(inbox, 'b.csv'), 'b');
    const transport = await NatsTransport.connect({ servers: server().url });
    const topology = defineTopology(name, (t) => {
      t.respond<number, number>(`${name}.double`, (req) => (req.data < 0 ? throwError(() => new Error('negative')) : of(req.data * 2)), {
        deadlineMs: 5_000,
        fallback: () => -1,
        name: 'double',
      });
      const ticks = t.schedule('tick', '* * * * * *', { tz: 'UTC', catchUp: 'skip' }).pipe(map(() => 'tick'));
      const feed = poll((cursor: number) => of({ items: cursor === 0 ? [1, 2, 3] : [], cursor: 1 }), {
        everyMs: 50,
        name: 'feed',
        cursor: { initial: 0 },
      }).pipe(map((n) => `item ${n}`));
      const files = fileDrop(inbox, { name: 'inbox', pollMs: 50 }).pipe(map((f) => `file ${f.name}`));
      const checked = t.stream<number>(`${name.toUpperCase().replace(/-/g, '_')}_IN`, `${name}.in`).pipe(
        check<number, string>({
          name: 'limits',
          request: (e) => (e.data > 0 ? of('ok') : throwError(() => new Error('refused'))),
          timeoutMs: 5_000,
          onTimeout: 'allow',
          onError: 'allow',
        }),
        map((c) => ('outcome' in c ? c.outcome : 'dead-lettered')),
      );
      return merge(ticks, feed, files, checked).pipe(t.sink(`${name}.out`));
    });
    const run = await runTopology(topology, {
      transport,
      logger: pino({ level: 'silent' }),
      report: () => undefined,
      closeTransport: false,
      service: false,
      stateDir,
    });
    const part = (partName: string): PartReading & { kind: string } => {
      const p = run.stats.parts().find((x) => x.name === partName);
      if (p === undefined)
        throw new Error(
          `no part '${partName}' in ${run.stats
            .parts()
            .map((x) => x.name)
            .join(', ')}`,
        );
      return { kind: p.kind, ...p.read() };
    };
    try {
      await until(async () => (await transport.streamState(`${name.toUpperCase().replace(/-/g, '_')}_IN`).catch(() => undefined)) !== undefined, {
        what: 'the input stream',
      });
      for (const n of [1, 2, -3]) await transport.publishDurable(`${name}.in`, msgpackCodec.encode(n));
      expect(msgpackCodec.decode((await transport.request(`${name}.double`, msgpackCodec.encode(21), { timeoutMs: 5_000 })).data)).toBe(42);
      const failed = await transport.request(`${name}.double`, msgpackCodec.encode(-1), { timeoutMs: 5_000 });
      expect(failed.headers['Nats-Service-Error-Code']).toBe('500');
      await until(
        async () =>
          part('schedule tick').out >= 1 &&
          part('fileDrop inbox').unsettled === 0 &&
          part('fileDrop inbox').in === 2 &&
          part('check limits').out === 3 &&
          part('poll feed').unsettled === 0,
        {
          what: 'a tick, both files done, three checks, the poll round settled',
        },
      );

      expect(part('respond double')).toMatchObject({ kind: 'source', in: 2, out: 2, deadLetters: 1, unsettled: 0, detail: { failures: 1 } });
      expect(part('schedule tick')).toMatchObject({ kind: 'source', deadLetters: 0 });
      expect(part('schedule tick').in).toBe(part('schedule tick').out);
      expect(part('poll feed')).toMatchObject({ kind: 'source', in: 3, out: 3, unsettled: 0, lastBatchSize: 0, maxBatchSize: 3, detail: { failures: 0 } });
      expect(part('poll feed').batches).toBeGreaterThanOrEqual(2);
      expect(part('fileDrop inbox')).toMatchObject({ kind: 'source', in: 2, out: 2, deadLetters: 0, unsettled: 0 });
      expect(part('check limits')).toMatchObject({ kind: 'operator', in: 3, out: 3, deadLetters: 0, unsettled: 0, detail: { failures: 1 } });
      // fileDrop's own poll is not a second part.
      expect(
        run.stats
          .parts()
          .filter((p) => p.name.startsWith('poll '))
          .map((p) => p.name),
      ).toEqual(['poll feed']);
    } finally {
      await run.stop();
      await transport.close();
    }
  });
});
