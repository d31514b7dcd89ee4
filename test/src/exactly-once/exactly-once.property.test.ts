import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExactlyOnce } from '../../../src/exactly-once/start-exactly-once.js';
import type { ExactlyOnceHandle, FaultPoint } from '../../../src/exactly-once/types.js';
import { openStateStore } from '../../../src/state/open-state-store.js';
import type { StateStore } from '../../../src/state/types.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { checkExactlyOnce, counterProcessor, createStreams, publishInputs, readOutputs } from './counter-model.js';

/*
 * Model-based property of the exactly-once engine against a real nats-server and real LMDB files:
 * random event sequences over random keys, random micro-batch sizes, and random crashes injected
 * (through the engine's testing-only `faults` hook) at every step of the commit protocol, each
 * followed by a restart — a fresh engine on a freshly reopened store, same server. Afterwards the
 * final state equals a sequential reference model's, every expected output is on the output
 * stream exactly once (counted by message id), and per-key output order matches input order.
 */

const server = useNatsServer();
let transport: NatsTransport;
beforeAll(async () => {
  transport = await NatsTransport.connect({ servers: server().url });
});
afterAll(async () => {
  await transport?.close();
});

const POINTS: readonly FaultPoint[] = ['before-commit', 'after-commit', 'mid-publish', 'before-outbox-removal'];
const RUN_TIMEOUT_MS = 20_000;

const scenario = fc.record({
  keys: fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 150, maxLength: 220 }),
  maxCount: fc.integer({ min: 1, max: 64 }),
  maxWaitMs: fc.integer({ min: 0, max: 3 }),
  maxInFlight: fc.integer({ min: 1, max: 64 }),
  stateCacheEntries: fc.constantFrom(0, 3, 10_000),
  crashes: fc.array(fc.record({ point: fc.constantFrom(...POINTS), after: fc.integer({ min: 0, max: 12 }) }), { minLength: 1, maxLength: 4 }),
});

/** Runs the engine until it crashes at the spec's fault or settles everything, whichever first. */
async function runUntilCrashOrDone(engine: ExactlyOnceHandle, lastSeq: number): Promise<'crashed' | 'settled'> {
  return Promise.race([
    engine.done.then(
      () => 'settled' as const,
      () => 'crashed' as const,
    ),
    engine.settled(lastSeq).then(
      () => 'settled' as const,
      () => 'crashed' as const,
    ),
  ]);
}

function watchdog<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no progress within ${RUN_TIMEOUT_MS} ms`)), RUN_TIMEOUT_MS);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

describe('exactly-once engine (model-based property)', () => {
  it('any events, batch sizes and crash points: state = model, each output exactly once, per-key order kept', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        const input = uniqueName('PIN');
        const output = uniqueName('POUT');
        const names = { input, inSubject: input.toLowerCase(), output, outSubject: output.toLowerCase() };
        await createStreams(transport, names);
        const keys = sc.keys.map((k) => `key${k}`);
        const seqs = await publishInputs(transport, names.inSubject, keys);
        const lastSeq = seqs[seqs.length - 1]!;
        const dir = mkdtempSync(join(tmpdir(), 'sluice-eo-prop-'));
        let store: StateStore | undefined;
        try {
          const config = (s: StateStore) => ({
            name: 'counter',
            transport,
            store: s,
            source: { stream: input },
            batch: { maxCount: sc.maxCount, maxWaitMs: sc.maxWaitMs },
            outputs: { maxInFlight: sc.maxInFlight, maxPending: Math.max(sc.maxCount, sc.maxInFlight) * 2 },
            stateCacheEntries: sc.stateCacheEntries,
            process: counterProcessor(names.outSubject),
          });
          for (const crash of sc.crashes) {
            store = openStateStore({ dir, topology: 'prop', noSync: true });
            let seen = 0;
            const faults = ({ point }: { point: FaultPoint }): void => {
              if (point === crash.point && seen++ === crash.after) throw new Error(`injected crash at ${point} #${crash.after}`);
            };
            let engine: ExactlyOnceHandle;
            try {
              engine = await watchdog(startExactlyOnce({ ...config(store), faults }), 'engine start');
            } catch {
              await store.close(); // crashed while re-publishing the outbox at start
              continue;
            }
            const outcome = await watchdog(runUntilCrashOrDone(engine, lastSeq), 'faulty engine');
            // Stopping may itself hit the injected fault (removing the last acknowledged outbox records).
            if (outcome === 'settled') await engine.stop().catch(() => undefined);
            await store.close();
          }
          store = openStateStore({ dir, topology: 'prop', noSync: true });
          const final = await watchdog(startExactlyOnce(config(store)), 'final engine start');
          await watchdog(final.settled(lastSeq), 'final engine');
          await final.stop();
          const problems = checkExactlyOnce({ idPrefix: 'prop.counter.', keys, seqs, outputs: await readOutputs(transport, output), store });
          expect(problems).toEqual([]);
        } finally {
          await store?.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 20) },
    );
  }, 240_000);
});
