import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { decodeEnvelope } from '../../../src/codec/decode-envelope.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import { startTestNatsServer, type NatsServerHandle } from '../../helpers/nats-server.js';
import { readStream } from '../../helpers/read-stream.js';
import { until } from '../../helpers/until.js';
import { cleanEnv, logMessages, ROOT, sluice, spawnCli } from './run-cli.js';
import type { PaddedInput } from './fixtures/padded-counter.js';

const FIXTURE = 'test/src/cli/fixtures/padded-counter.ts';
const BATCH_FIXTURE = 'test/src/cli/fixtures/padded-batch.ts';
// Each test gets its own broker: the actor's streams and consumers must start empty.
let broker: NatsServerHandle | undefined;
let client: NatsTransport | undefined;
let scratch: string;
const server = () => broker!;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'sluice-storage-faults-'));
});
beforeEach(async () => {
  broker = await startTestNatsServer();
  client = await NatsTransport.connect({ servers: broker.url });
  published = 0;
});
afterEach(async () => {
  await client?.close();
  await broker?.dispose();
});
afterAll(async () => {
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

let published = 0;
/** Publishes `count` inputs (ids `in-<n>`, continuing across calls) over `keys` keys, each with a pad of `padBytes`. */
async function publishInputs(count: number, keys: number, padBytes: number): Promise<string[]> {
  await client!.ensureStream({ name: 'FAULTS_IN', subjects: ['faults.in.>'] });
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = published++;
    const input: PaddedInput = { id: `in-${n}`, key: `k${n % keys}`, pad: `${n}:`.padEnd(padBytes, 'x') };
    await client!.publishDurable(`faults.in.${input.key}`, msgpackCodec.encode(input));
    ids.push(input.id);
  }
  return ids;
}

async function outputs(): Promise<Array<{ id: string; key: string; count: number }>> {
  const state = await client!.streamState('FAULTS_OUT').catch(() => undefined);
  if (state === undefined) return [];
  return (await readStream(client!, 'FAULTS_OUT')).map((m) => decodeEnvelope(m, msgpackCodec).data as { id: string; key: string; count: number });
}

/** Every input once, and per key the counts 1..n in order: nothing lost, nothing duplicated, nothing committed twice. */
function expectExactlyOnce(out: Array<{ id: string; key: string; count: number }>, ids: readonly string[]): void {
  expect(out.map((o) => o.id).sort()).toEqual([...ids].sort());
  const perKey = new Map<string, number[]>();
  for (const o of out) perKey.set(o.key, [...(perKey.get(o.key) ?? []), o.count]);
  for (const counts of perKey.values()) expect(counts).toEqual(counts.map((_, i) => i + 1));
}

/** The failed part and its error, from the one 'pipeline failed ...' record of the JSON log. */
function failure(stderr: string): string {
  const records = stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; part?: string; err?: { type: string; message: string } })
    .filter((r) => r.msg.startsWith('pipeline failed'));
  expect(records).toHaveLength(1);
  // pino appends the cause's message to err.message; the error's own message is the first part.
  const { part, err } = records[0]!;
  return `${part}: ${err!.type}: ${err!.message.split(': EROFS')[0]}`;
}

describe('sluice run: storage faults', () => {
  it('a state directory on /proc: UnsupportedStateDirectoryError naming the path and what to do, exit 1 within seconds', { timeout: 30_000 }, async () => {
    const started = Date.now();
    const result = await sluice(['run', FIXTURE, '--nats', server().url], cleanEnv({ SLUICE_STATE_DIR: '/proc/sluice-state' })).result;
    const elapsedMs = Date.now() - started;
    expect(result.code, result.stderr).toBe(1);
    expect(failure(result.stderr)).toBe(
      "actor counter: UnsupportedStateDirectoryError: state directory '/proc/sluice-state/faults' is unusable: it is on a proc filesystem, which cannot hold an LMDB store: set SLUICE_STATE_DIR (or stateDir) to a directory on a local disk",
    );
    expect(elapsedMs).toBeLessThan(8_000); // CLI start-up (tsx) included
  });

  it('an unwritable (read-only) state directory: StateDirectoryError, exit 1', { timeout: 30_000 }, async () => {
    // As root, permission bits do not stop writes: a read-only mount does (in a user namespace).
    const dir = join(scratch, 'ro');
    const script = `mkdir -p "${dir}" && mount -t tmpfs -o ro,size=1m tmpfs "${dir}" && exec "${process.execPath}" bin/sluice.js run ${FIXTURE} --nats ${server().url}`;
    const result = await spawnCli('unshare', ['-rm', 'sh', '-c', script], cleanEnv({ SLUICE_STATE_DIR: dir })).result;
    expect(result.code, result.stderr).toBe(1);
    expect(failure(result.stderr)).toBe(
      `actor counter: StateDirectoryError: state directory '${dir}/faults' is unusable: cannot create it (read-only filesystem): create it yourself, or set SLUICE_STATE_DIR to a writable directory`,
    );
  });

  it(
    'disk full: StateDiskFullError naming the path, exit 1 without acknowledging what was not committed; with room again, every input exactly once',
    { timeout: 90_000 },
    async () => {
      // A 1 MiB tmpfs in a user + mount namespace (no root needed). Each key's state holds a 40 KB
      // pad: the disk fills after a few dozen inputs. Then the same mount is given 64 MiB and the
      // topology restarted on the same store.
      const dir = join(scratch, 'small-disk');
      const ids = await publishInputs(120, 40, 40_000);
      const run = `"${process.execPath}" bin/sluice.js run ${FIXTURE} --nats ${server().url}`;
      const script = [
        `mkdir -p "${dir}" && mount -t tmpfs -o size=1m tmpfs "${dir}" || exit 99`,
        `${run}; echo "first-exit=$?"`,
        `mount -o remount,size=64m "${dir}" || exit 98`,
        `${run} --duration-ms 6000; echo "second-exit=$?"`,
      ].join('\n');
      const result = await spawnCli('unshare', ['-rm', 'sh', '-c', script], cleanEnv({ SLUICE_STATE_DIR: dir })).result;
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('first-exit=1');
      expect(result.stderr).toMatch(
        new RegExp(
          `StateDiskFullError.*state store '${dir}/faults' is full .*the disk holding it is full \\(\\d+ bytes free\\): free space there, or set SLUICE_STATE_DIR`,
        ),
      );
      expect(result.stdout).toContain('second-exit=0');
      expectExactlyOnce(await outputs(), ids);
    },
  );

  it(
    "LMDB map full: StateMapFullError naming the store's path and the mapSizeBytes to raise, exit 1 with nothing flushed; with a bigger map, every input exactly once",
    { timeout: 90_000 },
    async () => {
      // A durable batch holding each value (a 40 KB pad) in a 1 MiB map (LMDB's smallest): the map
      // is full long before the batch has its 60 values. Then the same store with a 64 MiB map.
      const stateDir = join(scratch, 'small-map');
      const ids = await publishInputs(120, 40, 40_000);
      const run = (mapSizeBytes: number, ...flags: string[]) =>
        sluice(['run', BATCH_FIXTURE, '--nats', server().url, ...flags], cleanEnv({ SLUICE_STATE_DIR: stateDir, FAULTS_MAP_SIZE_BYTES: String(mapSizeBytes) }))
          .result;

      const full = await run(1024 * 1024);
      expect(full.code, full.stderr).toBe(1);
      expect(full.stderr).toMatch(
        new RegExp(
          `StateMapFullError: state store '${stateDir}/faults' is full \\(\\d+ of 1048576 bytes used\\): the size limit is reached: raise 'mapSizeBytes' above 1048576 \\(e\\.g\\. to 2097152; for the store of a topology's actors and durable batches, SLUICE_STATE_MAP_SIZE_BYTES\\)`,
        ),
      );
      expect(await outputs()).toEqual([]); // no batch closed: nothing flushed, nothing lost either

      const roomy = await run(64 * 1024 * 1024, '--duration-ms', '6000');
      expect(roomy.code, roomy.stderr).toBe(0);
      expect(roomy.stderr).not.toMatch(/StateMapFullError/);
      const out = await outputs();
      expect(out.map((o) => o.id).sort()).toEqual([...ids].sort());
    },
  );

  it(
    'a second process on the same state directory: StateDirectoryInUseError naming the owner; SIGTERM during a commit stuck on the store lock still ends the process, and a restart commits every input once',
    { timeout: 90_000 },
    async () => {
      const stateDir = join(scratch, 'locked');
      const first = await publishInputs(5, 5, 10);
      const running = sluice(['run', FIXTURE, '--nats', server().url, '--drain-timeout-ms', '500'], cleanEnv({ SLUICE_STATE_DIR: stateDir }));
      let holder: ChildProcess | undefined;
      try {
        await running.waitFor(/sluice: running faults/);
        await until(async () => (await outputs()).length === first.length, { what: 'the first outputs', timeoutMs: 20_000 });

        const second = sluice(['run', FIXTURE, '--nats', server().url], cleanEnv({ SLUICE_STATE_DIR: stateDir }));
        const refused = await second.result;
        expect(refused.code, refused.stderr).toBe(1);
        expect(refused.stderr).toMatch(
          new RegExp(
            `StateDirectoryInUseError: state directory '${stateDir}/faults' is unusable: process \\d+ has it open \\(one process per state directory\\)`,
          ),
        );

        // Idle now (outbox entries removed): take LMDB's write lock from outside, as a process
        // that ignores the claim would, so the next commit waits on it in lmdb's writer thread.
        await new Promise((r) => setTimeout(r, 1_000));
        holder = spawn(process.execPath, ['--import', 'tsx', 'test/src/cli/fixtures/hold-state-lock.ts', join(stateDir, 'faults')], {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        const held = holder;
        await new Promise<void>((resolve, reject) => {
          held.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('holding') && resolve());
          held.once('exit', (code) => reject(new Error(`lock holder exited (${code})`)));
        });
        const more = await publishInputs(5, 5, 10);
        await new Promise((r) => setTimeout(r, 1_500)); // the hand-over, and the actor's commit that waits on the lock
        const signalledAt = Date.now();
        running.kill('SIGTERM');
        const result = await running.result;
        const exitMs = Date.now() - signalledAt;
        expect(exitMs, result.stderr).toBeLessThan(2 * 500 + 2_000 + 1_500);
        expect(result.stderr).toMatch(/"signal":"SIGTERM"/);
        // The stuck commit would hang process.exit in lmdb-js's exit hook: the process kills itself.
        expect(logMessages(result.stderr)).toContain(`the state store in ${stateDir}/faults did not close (a commit is stuck`);
        expect(result.signal).toBe('SIGKILL');
        expect((await outputs()).length).toBe(first.length); // nothing of the stuck commit went out

        holder.kill('SIGKILL');
        const restart = await sluice(['run', FIXTURE, '--nats', server().url, '--duration-ms', '3000'], cleanEnv({ SLUICE_STATE_DIR: stateDir })).result;
        expect(restart.code, restart.stderr).toBe(0);
        expectExactlyOnce(await outputs(), [...first, ...more]);
      } finally {
        running.kill('SIGKILL');
        holder?.kill('SIGKILL');
      }
    },
  );
});
