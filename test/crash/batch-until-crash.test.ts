import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStateStore } from '../../src/state/open-state-store.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import { uniqueName, useNatsServer } from '../helpers/nats-server.js';
import { crashSeed, mulberry32, spawnCrashChild, type CrashChild } from './crash-child.js';
import { batchNames, checkBatchOutputs, createBatchStreams, publishPlan, readBatchOutputs } from '../src/exactly-once/durable-batch-model.js';

/*
 * Real crashes of the durable batch (`startDurableBatch`): a child process accumulates a stream of
 * values cut by end-of-day messages and flushes each batch in chunks; it is SIGKILLed (a) while
 * accumulating and (b) in the middle of flushing a large batch — while the previous chunk's outputs
 * are being published — and restarted each time. Afterwards every input is in exactly one batch,
 * at its index, and every flush output is on the output stream exactly once.
 * Kill points are seeded and printed; reproduce with SLUICE_CRASH_SEED=<seed>.
 */

const CHILD = join(import.meta.dirname, 'batch-until-child.ts');
const ID_PREFIX = 'crash.nightly.batch.';

interface Child extends CrashChild {
  position(): number;
  /** Resolves once the child's output satisfies `cond` (or it exits). */
  when(cond: (state: { pos: number; flushes: readonly [number, number][] }) => boolean): Promise<void>;
  flushes(): readonly [number, number][];
  /** The stats of the `done` line. */
  stats(): { duplicates: number; batchesFlushed: number };
}

function startChild(cfg: object): Child {
  const state = { pos: -1, flushes: [] as [number, number][], done: '{}' };
  const child = spawnCrashChild(CHILD, cfg, (line) => {
    if (line.startsWith('pos ')) state.pos = Number(line.slice(4));
    if (line.startsWith('done ')) state.done = line.slice(5);
    if (line.startsWith('flush ')) {
      const [, b, from] = line.split(' ');
      state.flushes.push([Number(b), Number(from)]);
    }
  });
  return {
    ...child,
    position: () => state.pos,
    when: (cond) => child.when(() => cond(state)),
    flushes: () => state.flushes,
    stats: () => JSON.parse(state.done) as { duplicates: number; batchesFlushed: number },
  };
}

const server = useNatsServer();
let transport: NatsTransport;
beforeAll(async () => {
  transport = await NatsTransport.connect({ servers: server().url });
});
afterAll(async () => {
  await transport?.close();
});
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function prepare(plan: readonly (number | 'eod')[], chunkSize: number) {
  const names = batchNames(uniqueName('BCIN'), uniqueName('BCOUT'));
  await createBatchStreams(transport, names);
  const published = await publishPlan(transport, names, plan);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-batch-crash-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = {
    url: server().url,
    dir,
    stream: names.input,
    triggerSubject: `${names.inSubject}.eod`,
    outSubject: names.outSubject,
    lastSeq: published.lastSeq,
    chunkSize,
  };
  return { names, published, cfg };
}

async function kill(child: Child): Promise<string> {
  child.proc.kill('SIGKILL');
  const { signal, code } = await child.exited;
  const f = child.flushes();
  const lastFlush = f.length === 0 ? 'none' : f[f.length - 1]!.join('@');
  return `${signal ?? `exit ${code}`} at position ${child.position()}, last flush chunk started ${lastFlush}`;
}

/** Runs a child to completion; returns its final stats. */
async function finish(cfg: object): Promise<{ duplicates: number; batchesFlushed: number }> {
  const child = startChild(cfg);
  cleanups.push(() => void child.proc.kill('SIGKILL'));
  const { code } = await child.exited;
  expect(code, child.stderr()).toBe(0);
  return child.stats();
}

function openBatchValues(dir: string): number {
  const store = openStateStore({ dir, topology: 'crash' });
  try {
    return [...store.entries('batch.nightly')].filter((e) => e.key.startsWith('v.')).length;
  } finally {
    void store.close();
  }
}

describe('durable batch under real crashes', () => {
  it('(a) SIGKILL while accumulating, restarted each time: every input in exactly one batch, each output once', async () => {
    const { names, published, cfg } = await prepare([4000, 'eod', 3000, 'eod', 1000], 1000);
    const seed = crashSeed();
    const rnd = mulberry32(seed);
    const points = Array.from({ length: 3 }, () => Math.floor(rnd() * cfg.lastSeq * 0.9)).sort((a, b) => a - b);
    const moments: string[] = [];
    for (const point of points) {
      const child = startChild(cfg);
      cleanups.push(() => void child.proc.kill('SIGKILL'));
      await child.when((s) => s.pos >= point);
      await new Promise((r) => setTimeout(r, Math.floor(rnd() * 10)));
      moments.push(await kill(child));
    }
    console.log(`batch-until crash (a): seed ${seed}; kills: ${moments.join('; ')}`);
    await finish(cfg);
    expect(checkBatchOutputs(ID_PREFIX, published, await readBatchOutputs(transport, names.output))).toEqual([]);
    expect(openBatchValues(cfg.dir)).toBe(published.open.length);
  }, 60_000);

  it('(b) SIGKILL in the middle of a large flush (outputs being published), restarted each time', async () => {
    const { names, published, cfg } = await prepare([500, 'eod', 12_000, 'eod'], 1000);
    const seed = crashSeed();
    const rnd = mulberry32(seed);
    const moments: string[] = [];
    // Two kills inside batch 2's flush, at chunks chosen by the seed (the second after the first).
    const first = 2 + Math.floor(rnd() * 4);
    const targets = [first * 1000, (first + 2 + Math.floor(rnd() * 4)) * 1000];
    for (const from of targets) {
      const child = startChild(cfg);
      cleanups.push(() => void child.proc.kill('SIGKILL'));
      // The chunk before `from` is committed and its outputs are being published when the
      // flush of `from` starts (up to maxPending outputs stay unacknowledged meanwhile).
      await child.when((s) => s.flushes.some(([b, f]) => b === 2 && f >= from));
      moments.push(await kill(child));
    }
    console.log(`batch-until crash (b): seed ${seed}; kills: ${moments.join('; ')}`);
    const stats = await finish(cfg);
    // Outputs published before the last kill but not yet removed from the outbox were sent again.
    expect(stats.duplicates).toBeGreaterThan(0);
    expect(checkBatchOutputs(ID_PREFIX, published, await readBatchOutputs(transport, names.output))).toEqual([]);
    expect(openBatchValues(cfg.dir)).toBe(0);
  }, 60_000);
});
