/**
 * The soak: steady load into a real nats-server, with processor SIGKILLs, broker SIGKILLs and
 * poison mixed in, for a set time; then it drains, reconciles every input against the outputs
 * and the dead letters, and prints its figures. `npm run soak` runs it for three minutes
 * (`-- --minutes N`, `SLUICE_CRASH_SEED` to replay the chaos schedule); test/soak/soak.test.ts
 * runs a short one in CI.
 *
 * Each input is published with its id as `Nats-Msg-Id` (retried until acked, across broker
 * restarts), so the set of inputs in the stream is exactly known. A good input must reach the
 * output stream exactly once; a poison input must reach the dead letters, and nothing else.
 */
import { once } from 'node:events';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { jetstream, jetstreamManager, StorageType, type JetStreamClient } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { msgpackCodec } from '../../src/index.js';
import { deadLetterStreamName } from '../../src/dead-letter/dead-letter-subject.js';
import { decodeDeadLetter } from '../../src/dead-letter/encode-dead-letter.js';
import { startNatsServer } from '../../src/runtime/nats-server-process.js';
import { crashSeed, mulberry32, spawnCrashChild, type CrashChild } from '../crash/crash-child.js';
import { readStreamDecoded } from '../helpers/read-stream.js';
import type { SoakInput } from './soak-topology.js';

/** How poison is made: `bytes` is not MessagePack at all; `throw` makes the topology's map throw. */
export type PoisonKind = 'bytes' | 'throw';

export interface SoakOptions {
  readonly durationMs: number;
  /** Inputs published per second. Default 400. */
  readonly ratePerSec?: number;
  /** Processor SIGKILLs come every this many ms, drawn uniformly. Default [4000, 9000]. */
  readonly processorKillEveryMs?: readonly [number, number];
  /** nats-server SIGKILLs (then restarts on the same store) every this many ms. Default [12000, 20000]. */
  readonly brokerKillEveryMs?: readonly [number, number];
  /** One input in this many is poison. Default 97. */
  readonly poisonEvery?: number;
  readonly poisonKinds?: readonly PoisonKind[];
  readonly seed?: number;
  /** How long the drain after the load may take, ms. Default 60000. */
  readonly drainTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface SoakResult {
  readonly seed: number;
  readonly events: number;
  readonly poison: number;
  readonly processorKills: number;
  readonly brokerRestarts: number;
  /** Processor starts that found the broker down and were started again (as a supervisor would). */
  readonly startRetries: number;
  readonly outputs: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly unexpected: number;
  readonly deadLetters: number;
  readonly poisonLost: number;
  readonly poisonDuplicated: number;
  /** Good inputs found in the dead letters (they should never be). */
  readonly goodDeadLettered: number;
  readonly durationMs: number;
  /** The last processor run's stderr tail, for failure messages. */
  readonly stderr: string;
}

const CHILD = join(import.meta.dirname, '..', 'crash', 'topology-child.ts');
const FIXTURE = join(import.meta.dirname, 'soak-topology.ts');
const POISON_BYTES = new Uint8Array([0xc1, 0xc1, 0xc1]); // 0xc1 is never used in MessagePack

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const started = Date.now();
  const seed = options.seed ?? crashSeed();
  const random = mulberry32(seed);
  const log = options.log ?? (() => undefined);
  const between = ([lo, hi]: readonly [number, number]): number => lo + Math.floor(random() * (hi - lo));
  const rate = options.ratePerSec ?? 400;
  const poisonEvery = options.poisonEvery ?? 97;
  const kinds = options.poisonKinds ?? ['bytes', 'throw'];

  const server = await startNatsServer();
  const name = `soak${seed}`;
  const io = { name, stream: 'SOAK_IN', subjects: 'soak.in.>', out: 'soak.out', ackWaitMs: 2000 };
  const nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100, noAsyncTraces: true });
  let child: CrashChild | undefined;
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: io.stream, subjects: [io.subjects], storage: StorageType.File });
    await jsm.streams.add({ name: 'SOAK_OUT', subjects: [`${io.out}.>`], storage: StorageType.File });

    let ready = false;
    const startChild = (): CrashChild => {
      ready = false;
      return spawnCrashChild(CHILD, { url: server.url, fixture: FIXTURE, params: io }, (line) => {
        if (line === 'ready') ready = true;
      });
    };
    child = startChild();

    // Load: `rate` inputs a second, each retried until the stream has it.
    const inputs = new Map<number, { id: string; poison: PoisonKind | undefined; seq?: number }>();
    let loading = true;
    const js = jetstream(nc, { timeout: 2000 });
    const pending = new Set<Promise<void>>();
    const load = (async () => {
      let n = 0;
      const perTick = Math.max(1, Math.round(rate / 50));
      while (loading) {
        for (let i = 0; i < perTick; i++) {
          n += 1;
          const poison = n % poisonEvery === 0 ? kinds[Math.floor(n / poisonEvery) % kinds.length] : undefined;
          const input = { id: `${name}-${n}`, poison } as { id: string; poison: PoisonKind | undefined; seq?: number };
          inputs.set(n, input);
          const bytes =
            poison === 'bytes' ? POISON_BYTES : msgpackCodec.encode({ id: input.id, n, ...(poison === 'throw' ? { poison } : {}) } satisfies SoakInput);
          const p = publishUntilStored(js, `soak.in.${n % 8}`, bytes, input.id).then((seq) => {
            input.seq = seq;
          });
          pending.add(p);
          void p.finally(() => pending.delete(p));
        }
        // Back-pressure: a broker outage must not pile up unbounded publishes.
        while (pending.size > rate * 5) await sleep(20);
        await sleep(20);
      }
      await Promise.all(pending);
    })();

    // A processor started while the broker is down fails to connect, and says so; a service
    // supervisor (systemd, Kubernetes) starts it again. Once running, it must never exit. This
    // goes on through the drain: a start the last broker kill refused must be started again.
    let startRetries = 0;
    const supervise = async (): Promise<void> => {
      const current = child!;
      // Read off the process, not raced against a settled promise: `exited.then(...)` settles a
      // microtask after `Promise.resolve(false)`, so that race never saw an exit.
      if (current.proc.exitCode === null && current.proc.signalCode === null) return;
      // Its last stderr (the reason it stopped) may still be on its way.
      if (current.proc.stderr !== null && !current.proc.stderr.readableEnded) await Promise.race([once(current.proc.stderr, 'end'), sleep(1_000)]);
      if (!ready && /ECONNREFUSED|CONNECTION_REFUSED|connection refused/i.test(current.stderr())) {
        startRetries += 1;
        log(`processor could not connect (broker down): started again`);
        await sleep(250);
        child = startChild();
      } else {
        throw new Error(`the processor exited on its own (it must carry on through poison and outages): ${current.stderr()}`);
      }
    };

    // Chaos: processor and broker kills on their own schedules until the load stops.
    let processorKills = 0;
    let brokerRestarts = 0;
    const until = started + options.durationMs;
    let nextProcessorKill = Date.now() + between(options.processorKillEveryMs ?? [4000, 9000]);
    let nextBrokerKill = Date.now() + between(options.brokerKillEveryMs ?? [12000, 20000]);
    while (Date.now() < until) {
      await sleep(50);
      if (Date.now() >= nextProcessorKill) {
        child.proc.kill('SIGKILL');
        await child.exited;
        processorKills += 1;
        log(`processor SIGKILL ${processorKills} at ${((Date.now() - started) / 1000).toFixed(1)} s`);
        child = startChild();
        nextProcessorKill = Date.now() + between(options.processorKillEveryMs ?? [4000, 9000]);
      }
      if (Date.now() >= nextBrokerKill) {
        await server.kill();
        await sleep(200 + Math.floor(random() * 800));
        await server.restart();
        brokerRestarts += 1;
        log(`nats-server SIGKILL + restart ${brokerRestarts} at ${((Date.now() - started) / 1000).toFixed(1)} s`);
        nextBrokerKill = Date.now() + between(options.brokerKillEveryMs ?? [12000, 20000]);
      }
      await supervise();
    }
    loading = false;
    await load;
    log(`load stopped: ${inputs.size} inputs published; draining`);

    // Drain: the processor's consumer has acked every input.
    const consumer = (await jsm.consumers.list(io.stream).next()).find((c) => c.name.startsWith('sluice_'))?.name;
    if (consumer === undefined) throw new Error('the processor made no durable consumer on the input stream');
    const drainBy = Date.now() + (options.drainTimeoutMs ?? 60_000);
    for (;;) {
      const info = await jsm.consumers.info(io.stream, consumer).catch(() => undefined);
      if (info !== undefined && info.num_pending === 0 && info.num_ack_pending === 0) break;
      if (Date.now() > drainBy)
        throw new Error(`not drained in time: ${JSON.stringify(info && { pending: info.num_pending, ackPending: info.num_ack_pending })}; ${child.stderr()}`);
      await supervise();
      await sleep(200);
    }

    // Reconcile.
    const bySeq = new Map<number, { id: string; poison: PoisonKind | undefined }>();
    for (const input of inputs.values()) if (input.seq !== undefined) bySeq.set(input.seq, input);
    const outputs = await readStreamDecoded(nc, 'SOAK_OUT', (m) => (msgpackCodec.decode(m.data) as { id?: string }).id);
    const seen = new Map<string, number>();
    for (const id of outputs) seen.set(id ?? '?', (seen.get(id ?? '?') ?? 0) + 1);
    const deadLetters = await readStreamDecoded(nc, deadLetterStreamName(io.name), (m) => decodeDeadLetter(m.data).seq);
    const dead = new Map<number, number>();
    for (const seq of deadLetters) if (seq !== undefined) dead.set(seq, (dead.get(seq) ?? 0) + 1);

    let lost = 0;
    let duplicated = 0;
    let poisonLost = 0;
    let poisonDuplicated = 0;
    let goodDeadLettered = 0;
    let poison = 0;
    for (const [seq, input] of bySeq) {
      if (input.poison !== undefined) {
        poison += 1;
        const d = dead.get(seq) ?? 0;
        if (d === 0) poisonLost += 1;
        poisonDuplicated += Math.max(0, d - 1);
        if (seen.has(input.id)) duplicated += seen.get(input.id)!;
      } else {
        const c = seen.get(input.id) ?? 0;
        if (c === 0) lost += 1;
        duplicated += Math.max(0, c - 1);
        if (dead.has(seq)) goodDeadLettered += 1;
      }
    }
    // Outputs no input can explain (a poison input's output is counted as duplicated above).
    const inputIds = new Set([...bySeq.values()].map((i) => i.id));
    const unexpected = [...seen.keys()].filter((id) => !inputIds.has(id)).length;
    child.proc.kill('SIGTERM');
    await child.exited;
    return {
      seed,
      events: bySeq.size,
      poison,
      processorKills,
      brokerRestarts,
      startRetries,
      outputs: outputs.length,
      lost,
      duplicated,
      unexpected,
      deadLetters: deadLetters.length,
      poisonLost,
      poisonDuplicated,
      goodDeadLettered,
      durationMs: Date.now() - started,
      stderr: child.stderr(),
    };
  } catch (err) {
    // The seed replays the chaos schedule (kills and poison), so a failure names it.
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`soak seed ${seed} (SLUICE_CRASH_SEED=${seed} replays its schedule): ${reason}`, { cause: err });
  } finally {
    child?.proc.kill('SIGKILL');
    await nc.close().catch(() => undefined);
    await server.dispose();
  }
}

/** Publishes with `msgID` until the stream acks it (a retry after a lost ack is deduplicated); resolves with the stored sequence. */
async function publishUntilStored(js: JetStreamClient, subject: string, data: Uint8Array, msgID: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      return (await js.publish(subject, data, { msgID, timeout: 2000 })).seq;
    } catch {
      await sleep(Math.min(1000, 50 * 2 ** Math.min(attempt, 5)));
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One line for people: the figures the issue asks for. */
export function soakSummary(r: SoakResult): string {
  return (
    `soak seed ${r.seed}: ${r.events} events (${r.poison} poison) in ${(r.durationMs / 1000).toFixed(0)} s; ` +
    `${r.processorKills} processor kills, ${r.brokerRestarts} broker restarts, ${r.startRetries} starts retried; ` +
    `outputs ${r.outputs}: lost ${r.lost}, duplicated ${r.duplicated}, unexpected ${r.unexpected}; ` +
    `dead letters ${r.deadLetters}: poison lost ${r.poisonLost}, poison duplicated ${r.poisonDuplicated}, good inputs dead-lettered ${r.goodDeadLettered}`
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const i = process.argv.indexOf('--minutes');
  const minutes = i > 0 ? Number(process.argv[i + 1]) : 3;
  const result = await runSoak({ durationMs: minutes * 60_000, log: (line) => console.log(line) });
  console.log(soakSummary(result));
  const ok =
    result.lost === 0 &&
    result.duplicated === 0 &&
    result.unexpected === 0 &&
    result.poisonLost === 0 &&
    result.poisonDuplicated === 0 &&
    result.goodDeadLettered === 0;
  process.exit(ok ? 0 : 1);
}
