import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { openStateStore } from '../../src/state/open-state-store.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import { startTestNatsServer, uniqueName, type NatsServerHandle } from '../helpers/nats-server.js';
import { checkExactlyOnce, createStreams, publishInputs, readOutputs } from '../src/exactly-once/counter-model.js';
import { crashSeed, mulberry32, spawnCrashChild, type CrashChild } from './crash-child.js';

/*
 * Real crashes: a child process runs the exactly-once engine over 20,000 events and is SIGKILLed
 * at random moments (seeded; the seed and moments are printed), then restarted each time; a
 * second test SIGKILLs nats-server itself mid-stream and restarts it on the same port and store.
 * Afterwards: state = sequential model, every output exactly once, per-key order kept.
 * Reproduce a run with SLUICE_CRASH_SEED=<seed>.
 */

const EVENTS = 20_000;
const KEYS = 100;
const CHILD = join(import.meta.dirname, 'exactly-once-child.ts');

interface Child extends CrashChild {
  position(): number;
  /** Resolves once the child reports a committed position >= seq (or exits). */
  reached(seq: number): Promise<void>;
}

function startChild(cfg: object): Child {
  let pos = -1;
  const child = spawnCrashChild(CHILD, cfg, (line) => {
    if (line.startsWith('pos ')) pos = Number(line.slice(4));
  });
  return { ...child, position: () => pos, reached: (seq) => child.when(() => pos >= seq) };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function prepare(server: NatsServerHandle): Promise<{
  transport: NatsTransport;
  cfg: { url: string; dir: string; stream: string; outSubject: string; lastSeq: number; maxCount: number };
  output: string;
  keys: string[];
  seqs: number[];
}> {
  // Reconnects quickly after the server-kill test restarts nats-server.
  const transport = new NatsTransport(await connect({ servers: server.url, noAsyncTraces: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 }));
  cleanups.push(() => transport.close());
  const input = uniqueName('CIN');
  const output = uniqueName('COUT');
  const names = { input, inSubject: input.toLowerCase(), output, outSubject: output.toLowerCase() };
  await createStreams(transport, names);
  const keys = Array.from({ length: EVENTS }, (_, i) => `k${(i * 31 + (i >> 7)) % KEYS}`);
  const seqs = await publishInputs(transport, names.inSubject, keys);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-eo-crash-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return {
    transport,
    output,
    keys,
    seqs,
    cfg: { url: server.url, dir, stream: input, outSubject: names.outSubject, lastSeq: seqs[seqs.length - 1]!, maxCount: 256 },
  };
}

async function verify(transport: NatsTransport, dir: string, output: string, keys: string[], seqs: number[]): Promise<string[]> {
  const store = openStateStore({ dir, topology: 'crash' });
  try {
    return checkExactlyOnce({ idPrefix: 'crash.counter.', keys, seqs, outputs: await readOutputs(transport, output), store });
  } finally {
    await store.close();
  }
}

async function runToCompletion(cfg: object): Promise<void> {
  const child = startChild(cfg);
  cleanups.push(() => void child.proc.kill('SIGKILL'));
  const { code } = await child.exited;
  expect(code, child.stderr()).toBe(0);
}

describe('exactly-once under real crashes', () => {
  it('SIGKILL of the engine process at random moments, restarted each time', async () => {
    const server = await startTestNatsServer();
    cleanups.push(() => server.dispose());
    const { transport, cfg, output, keys, seqs } = await prepare(server);
    const seed = crashSeed();
    const rnd = mulberry32(seed);
    const points = Array.from({ length: 3 }, () => Math.floor(rnd() * cfg.lastSeq * 0.9)).sort((a, b) => a - b);
    const moments: string[] = [];
    for (const point of points) {
      const child = startChild(cfg);
      cleanups.push(() => void child.proc.kill('SIGKILL'));
      await child.reached(point);
      const extraMs = Math.floor(rnd() * 15);
      await new Promise((r) => setTimeout(r, extraMs));
      child.proc.kill('SIGKILL');
      const { signal, code } = await child.exited;
      moments.push(`${signal ?? `exit ${code}`} at position ~${child.position()} (target ${point} + ${extraMs} ms)`);
    }
    console.log(`exactly-once crash test: seed ${seed}; kills: ${moments.join('; ')}`);
    await runToCompletion(cfg);
    expect(await verify(transport, cfg.dir, output, keys, seqs)).toEqual([]);
  }, 120_000);

  it('SIGKILL of nats-server mid-stream: the engine reconnects, recreates its consumer and finishes', async () => {
    const server = await startTestNatsServer();
    cleanups.push(() => server.dispose());
    const { transport, cfg, output, keys, seqs } = await prepare(server);
    const seed = crashSeed();
    const point = Math.floor(mulberry32(seed)() * cfg.lastSeq * 0.6) + 1000;
    const child = startChild(cfg);
    cleanups.push(() => void child.proc.kill('SIGKILL'));
    await child.reached(point);
    await server.kill();
    const at = child.position();
    await new Promise((r) => setTimeout(r, 300));
    await server.restart();
    console.log(`exactly-once server-crash test: seed ${seed}; nats-server SIGKILLed at engine position ~${at} (target ${point})`);
    const { code } = await child.exited;
    expect(code, child.stderr()).toBe(0);
    expect(child.stderr()).toMatch(/input consumer recreated/);
    expect(await verify(transport, cfg.dir, output, keys, seqs)).toEqual([]);
  }, 120_000);
});
