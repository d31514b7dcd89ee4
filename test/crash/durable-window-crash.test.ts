import { describe, expect, it } from 'vitest';
import { useNatsServer } from '../helpers/nats-server.js';
import type { CrashOutput } from './crash-tally.js';
import { guaranteeViolations, runCrashRow, type CrashRow } from './topology-crash.js';

/*
 * t.durableWindow under real crashes: a child running test/crash/topologies/durable-window.ts is
 * SIGKILLed at seeded random moments over a real nats-server and restarted until every input is
 * accounted for; each input must be in exactly one window result or exactly one late record, so
 * a window published twice (or a late record) would count its inputs twice, and a window lost on
 * the way would lose them. Reproduce with SLUICE_CRASH_SEED=<seed> from the result line.
 */

const server = useNatsServer();

/** A window result counts once for each id it folded; a late record once for its input. */
function perInput(o: CrashOutput): CrashOutput[] {
  const data = o.data as { type?: string; value?: unknown; item?: { id?: unknown } } | null;
  if (o.to === 'window' && Array.isArray(data?.value)) return data.value.map((id) => ({ ...o, id: String(id), to: 'out' }));
  if (o.to === 'late' && typeof data?.item?.id === 'string') return [{ ...o, id: data.item.id, to: 'out' }];
  return [o];
}

export const DURABLE_WINDOW_ROW: CrashRow = {
  title: 'durable window: stream → t.durableWindow (tumbling per key, late events, idle close) → window results + late records',
  fixture: 'durable-window.ts',
  guarantee: 'exactly-once',
  msgIds: 'group',
  inputs: 2000,
  kills: 3,
  complete: 'outputs',
  expand: perInput,
};

describe('t.durableWindow under real crashes (SIGKILL of the processor)', () => {
  it(
    DURABLE_WINDOW_ROW.title,
    async () => {
      const result = await runCrashRow(server(), DURABLE_WINDOW_ROW);
      expect(guaranteeViolations(result)).toEqual([]);
    },
    120_000,
  );
});
