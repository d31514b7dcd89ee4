import { describe, expect, it } from 'vitest';
import { useNatsServer } from '../helpers/nats-server.js';
import { ACTOR_ORDER_ROW } from './guarantee-rows.js';
import { guaranteeViolations, runCrashRow } from './topology-crash.js';

/*
 * Per-key order across crashes on the hand-over path (`t.actor(def, t.stream(...).pipe(...))`):
 * the processor is SIGKILLed 3 times with up to 256 inputs delivered but unsettled; after each
 * restart the stream source re-reads from its ack floor (reReadUnackedWithinMs), so the actor
 * applies every input exactly once and, per key, in stream order. With `reReadUnackedWithinMs: 0`
 * (JetStream's own redelivery after the ack wait) this row fails: newer inputs overtake the
 * unsettled ones. Reproduce a run with SLUICE_CRASH_SEED=<seed>.
 */

const server = useNatsServer();

describe('per-key order under real crashes', () => {
  it(
    ACTOR_ORDER_ROW.title,
    async () => {
      expect(guaranteeViolations(await runCrashRow(server(), ACTOR_ORDER_ROW))).toEqual([]);
    },
    120_000,
  );
});
