import { describe, expect, it } from 'vitest';
import { useNatsServer } from '../helpers/nats-server.js';
import { ROUTE_ROW } from './guarantee-rows.js';
import { guaranteeViolations, runCrashRow } from './topology-crash.js';

/*
 * Memory over a backlog: BACKLOG events (200-byte padding each) wait in the input stream before
 * the processor starts; a stream → filter/map/route → durable sink topology (the stream source's
 * default maxUnsettled of 1000) drains them, is SIGKILLed once part-way and restarted. The child
 * measures its RSS every 10 ms; the largest over both runs must stay under RSS_BOUND — the
 * backlog is pulled at most maxUnsettled at a time, so memory does not grow with it — and the
 * outputs are still exactly once. 50,000 by default (~30 s on the shared 2-core machine; 50x the
 * bound of unsettled inputs); SLUICE_BACKLOG=200000 runs the full size (~80 s there).
 */

const BACKLOG = Number(process.env.SLUICE_BACKLOG ?? 50_000);
/** The child idles at ~110-125 MiB (Node, tsx, the runtime); draining peaked at 200 MiB for 50,000 events and 221 MiB for 200,000 here: GC slack, not growth with the backlog. */
const RSS_BOUND_MIB = 280;

const server = useNatsServer();

describe('a backlog drained after a restart', () => {
  it(`${BACKLOG} backlogged events: RSS stays under ${RSS_BOUND_MIB} MiB, outputs exactly once`, async () => {
    const result = await runCrashRow(server(), {
      ...ROUTE_ROW,
      title: `backlog of ${BACKLOG} through route → durable sink`,
      inputs: BACKLOG,
      padBytes: 200,
      kills: 1,
      params: { maxUnsettled: 1000 },
      timeoutMs: 100_000,
    });
    expect(guaranteeViolations(result)).toEqual([]);
    expect(result.maxRssBytes / 1024 / 1024).toBeLessThan(RSS_BOUND_MIB);
  }, 150_000);
});
