import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, jetstreamManager, StorageType, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { msgpackCodec, type Guarantee } from '../../src/index.js';
import { uniqueName, type NatsServerHandle } from '../helpers/nats-server.js';
import { readStreamDecoded } from '../helpers/read-stream.js';
import { ackFloor } from './ack-floor.js';
import { crashSeed, mulberry32, spawnCrashChild, type CrashChild } from './crash-child.js';
import { inputEncoder, publishCore, publishToStream, readOutputFiles, type InputSubject } from './crash-io.js';
import { tallyOutputs, type CrashInput, type CrashOutput, type Tally } from './crash-tally.js';
import type { ChildProgress, TopologyChildConfig } from './topology-child.js';
import { waitForKillPoint } from './wait-for-kill-point.js';

/*
 * The topology-level crash harness: one row of the guarantee table is one `CrashRow` — a fixture
 * topology (test/crash/topologies), its guarantee, what each input should produce — and
 * `runCrashRow` does the rest: publishes the inputs (each with its id in the payload and as
 * `Nats-Msg-Id`), runs the fixture in a child process (topology-child.ts) over the test's
 * nats-server, SIGKILLs it (and, when asked, nats-server) at seeded random moments, restarts it
 * until the work is complete, then reads the outputs back and counts them by input id.
 */

const FIXTURES = join(import.meta.dirname, 'topologies');
const CHILD = join(import.meta.dirname, 'topology-child.ts');

/**
 * The names one run of a row uses, unique per run, handed to the fixture (with the row's
 * `params`). Inputs are published on `<subjects without '>'>orders`; outputs go to `<out>.<target>`.
 */
export interface CrashIo {
  /** Topology name. */
  readonly name: string;
  /** Input stream (stream rows). */
  readonly stream: string;
  /** Input subject pattern: the stream's subjects, or the core subscription. */
  readonly subjects: string;
  /** Output subject prefix. */
  readonly out: string;
  /** The stream source's ack wait: how soon a killed child's unsettled inputs come back, ms. */
  readonly ackWaitMs: number;
  /** A fresh directory for the fixture (state, files), kept across the restarts of one run. */
  readonly dir: string;
  /** How many inputs the row has: input `n` (1..inputs) has id `<name>-<n>`, for fixtures that make their own input (poll). */
  readonly inputs: number;
}

/** One row of the guarantee table as a crash test. */
export interface CrashRow {
  readonly title: string;
  /** File in test/crash/topologies whose default export makes the topology from `CrashIo & params`. */
  readonly fixture: string;
  readonly guarantee: Guarantee;
  readonly inputs: number;
  /** SIGKILLs of the processor (each followed by a restart). */
  readonly kills: number;
  /** SIGKILLs of nats-server during the last run (each restarted on the same port and store). */
  readonly serverKills?: number | undefined;
  /**
   * Where inputs go: a JetStream stream (published before the first run), a core subject
   * (published during the runs), or nowhere (the fixture makes them from `CrashIo.inputs`).
   * Default 'stream'.
   */
  readonly source?: 'stream' | 'core' | 'none' | undefined;
  /**
   * How outputs are read: from a stream capturing `<out>.>`, by a core subscriber connected
   * through every crash, or from files `<dir>/out/<target>.<anything>.json` holding JSON arrays
   * of payloads. Default 'stream'.
   */
  readonly output?: 'stream' | 'subscriber' | 'files' | undefined;
  /**
   * Files rows: reads the outputs from the run's directory instead of `<dir>/out/*.json`, and
   * returns what it finds wrong beyond counting (added to the result's problems). `published` is
   * what the output stream holds (messages announcing files, say), decoded.
   */
  readonly readFiles?: ((dir: string, published: readonly CrashOutput[]) => { outputs: CrashOutput[]; problems: string[] }) | undefined;
  /** The output stream's subjects, from the output prefix. Default `[<out>.>]`. */
  readonly outSubjects?: ((out: string) => string[]) | undefined;
  /** The msgpack payload published for an input. Default `{ id, n }` (plus `pad`). */
  readonly payload?: ((input: CrashInput) => unknown) | undefined;
  /** Durable consumers the fixture makes on the input stream (each must ack everything). Default 1. */
  readonly consumers?: number | undefined;
  /** The targets (`<out>.<target>`) input number `n` must produce, one output each; [] for a filtered input. Default ['out']. */
  readonly expect?: ((n: number) => readonly string[]) | undefined;
  readonly payloadOk?: ((data: unknown, n: number) => boolean) | undefined;
  /**
   * Outputs that stand for several inputs (a window result listing its inputs' ids): what each
   * output read back counts as, one entry per input it carries. Default: itself.
   */
  readonly expand?: ((output: CrashOutput) => readonly CrashOutput[]) | undefined;
  /**
   * Exactly-once rows: outputs carry `Nats-Msg-Id` derived from the input position
   * (`<stream>:<seq>`), unless their ids come from recorded groups. Default 'position'.
   */
  readonly msgIds?: 'position' | 'group' | undefined;
  /**
   * When the work is complete: every consumer of the input stream acked it all (default for
   * streams), the output stream holds every expected output, `readFiles` finds every expected
   * output, or (core source) all inputs were published and the child went quiet.
   */
  readonly complete?: 'consumers' | 'outputs' | 'files' | 'quiet' | undefined;
  /** The child counter that kill points are drawn on. Default 'received'. */
  readonly progress?: 'received' | 'published' | undefined;
  /** Core-source rows: inputs per second. Default 1000. */
  readonly ratePerSec?: number | undefined;
  /** Default 2000. */
  readonly ackWaitMs?: number | undefined;
  /** Inputs carry a `pad` string of this many characters besides `id` and `n`. Default 0. */
  readonly padBytes?: number | undefined;
  readonly params?: Readonly<Record<string, unknown>> | undefined;
  /**
   * For a topology from topologies/ run as users run it, with the subjects and streams it exports:
   * the run publishes its inputs on `inputSubject` into the topology's `inputStream`, leaves the
   * output streams to the topology (it makes them), reads them all back, and takes an output's
   * target from its subject after `outPrefix.`. Fixed names do not collide: every test file has
   * its own nats-server (useNatsServer). Default: fresh names per run ({@link CrashIo}), which the
   * fixture takes.
   */
  readonly names?: TopologyNames | undefined;
  /**
   * What the outputs, in the order the output stream holds them, break beyond counting (per-key
   * order, say); added to the result's problems.
   */
  readonly checkOutputs?: ((outputs: readonly CrashOutput[]) => string[]) | undefined;
  /** How long the last run may take to complete the work, ms. Default 40000. */
  readonly timeoutMs?: number | undefined;
}

/** The names a topology fixes itself, for {@link CrashRow.names}. */
export interface TopologyNames {
  readonly topology: string;
  readonly inputStream: string;
  /** The input stream's subjects. */
  readonly inputSubjects: string;
  /** Where the run publishes an input. */
  readonly inputSubject: InputSubject;
  /** The streams the topology publishes its outputs to, read back in this order. */
  readonly outStreams: readonly string[];
  readonly outPrefix: string;
}

/** What a row's run found. */
export interface CrashResult extends Tally {
  readonly title: string;
  readonly guarantee: Guarantee;
  readonly seed: number;
  readonly inputs: number;
  readonly kills: number;
  /** One line per run: its kill (which, when) or its completion, and how long the child took to start. */
  readonly timeline: readonly string[];
  /** Exit code of the last run after SIGTERM (0: it drained). */
  readonly exitCode: number | null;
  readonly completed: boolean;
  readonly deadLetters: number;
  /** Inputs received over all runs beyond one each (stream rows): the replays the kills caused. */
  readonly redelivered: number;
  /** Values that reached a sink after their input settled, over all runs (should be 0). */
  readonly unsettledOutputs: number;
  /** Largest RSS any run of the child measured. */
  readonly maxRssBytes: number;
  readonly durationMs: number;
  /** The last run's stderr tail, for failure messages. */
  readonly stderr: string;
}

/** A running topology child (topology-child.ts) and its latest progress line. */
export interface Child extends CrashChild {
  progress(): ChildProgress;
  readonly ready: Promise<void>;
}

/** Starts topology-child.ts with `cfg`, following its `ready` / `p` / `done` lines. */
export function startChild(cfg: TopologyChildConfig): Child {
  let progress: ChildProgress = { received: 0, published: 0, deadLetters: 0, unsettledOutputs: 0, maxRssBytes: 0 };
  let isReady = false;
  const child = spawnCrashChild(CHILD, cfg, (line) => {
    if (line === 'ready') isReady = true;
    else if (line.startsWith('p ') || line.startsWith('done ')) progress = JSON.parse(line.slice(line.indexOf(' ') + 1)) as ChildProgress;
  });
  return { ...child, progress: () => progress, ready: child.when(() => isReady) };
}

/** Runs one row: publish, crash and restart, read back, count. Never throws for a broken guarantee: the caller asserts. */
export async function runCrashRow(server: NatsServerHandle, row: CrashRow): Promise<CrashResult> {
  const startedAt = Date.now();
  const seed = crashSeed();
  const rnd = mulberry32(seed ^ hashOf(row.title));
  const source = row.source ?? 'stream';
  const output = row.output ?? 'stream';
  const expect = row.expect ?? (() => ['out']);
  const progressOf = (c: Child): number => c.progress()[row.progress ?? 'received'];
  const base = uniqueName('crash');
  const fixed = row.names;
  const io: CrashIo = {
    name: fixed?.topology ?? base,
    stream: fixed?.inputStream ?? `${base.toUpperCase()}_IN`,
    subjects: fixed?.inputSubjects ?? `${base}.in.>`,
    out: fixed?.outPrefix ?? `${base}.out`,
    ackWaitMs: row.ackWaitMs ?? 2000,
    dir: mkdtempSync(join(tmpdir(), 'sluice-crash-')),
    inputs: row.inputs,
  };
  const outStreams = fixed?.outStreams ?? [`${base.toUpperCase()}_OUT`];
  const inputSubject = fixed?.inputSubject ?? `${base}.in.orders`;
  const nc = await connect({ servers: server.url, noAsyncTraces: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  const jsm = await jetstreamManager(nc);
  const children: Child[] = [];
  const timeline: string[] = [];
  const totals = { received: 0, deadLetters: 0, unsettledOutputs: 0, maxRssBytes: 0 };
  const fold = (c: Child): void => {
    const p = c.progress();
    totals.received += p.received;
    totals.deadLetters += p.deadLetters;
    totals.unsettledOutputs += p.unsettledOutputs;
    totals.maxRssBytes = Math.max(totals.maxRssBytes, p.maxRssBytes);
  };
  const outputs: CrashOutput[] = [];
  const decodeOne = (subject: string, data: Uint8Array, msgId: string | undefined): CrashOutput => {
    const payload = msgpackCodec.decode(data) as { id?: unknown } | null;
    const id = typeof payload?.id === 'string' ? payload.id : undefined;
    return { id, to: subject.slice(io.out.length + 1), msgId, data: payload };
  };
  const decode = (subject: string, data: Uint8Array, msgId: string | undefined): CrashOutput[] => {
    const o = decodeOne(subject, data, msgId);
    return row.expand !== undefined ? [...row.expand(o)] : [o];
  };
  try {
    if (source === 'stream') await jsm.streams.add({ name: io.stream, subjects: [io.subjects], storage: StorageType.File });
    if (output !== 'subscriber' && fixed === undefined)
      await jsm.streams.add({ name: outStreams[0]!, subjects: row.outSubjects?.(io.out) ?? [`${io.out}.>`], storage: StorageType.File });
    const sub =
      output === 'subscriber'
        ? nc.subscribe(`${io.out}.>`, {
            callback: (err, m) => void (err === null && outputs.push(...decode(m.subject, m.data, m.headers?.get('Nats-Msg-Id')))),
          })
        : undefined;
    const all: CrashInput[] = Array.from({ length: row.inputs }, (_, i) => ({ id: `${base}-${i + 1}`, n: i + 1 }));
    const payload = row.payload;
    const encode = payload !== undefined ? (input: CrashInput) => msgpackCodec.encode(payload(input)) : inputEncoder(row.padBytes ?? 0);
    const inputs = source === 'stream' ? await publishToStream(nc, inputSubject, all, encode) : all;
    if (source === 'stream') timeline.push(`${inputs.length} inputs published in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
    const lastSeq = inputs.at(-1)?.seq ?? 0;
    const consumers = row.consumers ?? 1;
    let publisher: Promise<void> | undefined;
    let publisherDone = false;
    const startPublisher = (): void => {
      if (source === 'core') publisher ??= publishCore(nc, inputSubject, all, encode, row.ratePerSec ?? 1000).finally(() => (publisherDone = true));
    };
    const cfg: TopologyChildConfig = { url: server.url, fixture: join(FIXTURES, row.fixture), params: { ...io, ...row.params } };
    const serverKills = row.serverKills ?? 0;
    // Kill points spread over the work; with a core source, within about half a second of traffic,
    // so that every run is killed while inputs still arrive.
    const perRun = Math.max(1, source === 'core' ? Math.floor((row.ratePerSec ?? 1000) / 2) : Math.floor(row.inputs / (row.kills + serverKills + 1)));
    const expectedOutputs = inputs.reduce((sum, i) => sum + expect(i.n).length, 0);
    const outputsDone = async (): Promise<boolean> => {
      if (row.expand === undefined && (await streamMessages(jsm, outStreams)) < expectedOutputs) return false;
      // At-least-once rows may hold duplicates: done only when every distinct output is there.
      if (row.guarantee === 'exactly-once' && row.expand === undefined) return true;
      const distinct = new Set((await readStreams(nc, outStreams, (m) => decode(m.subject, m.data, undefined))).flat().map((o) => `${o.to} ${o.id ?? ''}`));
      return distinct.size >= expectedOutputs;
    };
    // Nothing left for a child to read: every input acknowledged (handed over) by every consumer,
    // all published (core), or, when the fixture makes its own inputs, the work complete. An
    // ordered read acknowledges nothing and never holds this, but reads everything again each run,
    // so its count reaches the target.
    const allRead = async (): Promise<boolean> =>
      source === 'stream' ? consumersDone(jsm, io.stream, lastSeq, consumers) : source === 'core' ? publisherDone : outputsDone();
    // `from`: where the count starts (a nats-server kill's child has counted the runs before).
    const waitForTarget = async (child: Child, from = 0): Promise<string> => {
      const target = from + 1 + Math.floor(rnd() * perRun);
      const point = await waitForKillPoint(child, () => progressOf(child) >= target, allRead, { everyMs: source === 'none' ? 100 : 20 });
      const extraMs = Math.floor(rnd() * 20);
      if (point === 'target') await sleep(extraMs);
      const why = { target: '', 'all read': ', every input read first', exited: ', the child exited', fallback: ', neither in 20 s' }[point];
      return `after ${progressOf(child)} ${row.progress ?? 'received'} (target ${target}${why})`;
    };
    // Where the kill landed in the stream, read once it is down (one more request before it would delay it).
    const handedOver = async (): Promise<string> =>
      source === 'stream' ? `, inputs acknowledged to seq ${(await ackFloor(jsm, io.stream)) ?? '?'} of ${lastSeq}` : '';
    let runStart = 0;
    let readyMs = 0;
    const launch = async (): Promise<Child> => {
      runStart = Date.now();
      const child = startChild(cfg);
      children.push(child);
      if (!(await within(child.ready, 30_000)) || child.proc.exitCode !== null) throw new Error(`the child did not start: ${child.stderr()}`);
      readyMs = Date.now() - runStart;
      startPublisher();
      return child;
    };
    const runTime = (): string => {
      const rss = (children.at(-1)!.progress().maxRssBytes / 1024 / 1024).toFixed(0);
      return `run ${children.length} (ready after ${(readyMs / 1000).toFixed(1)} s) at ${((Date.now() - runStart) / 1000).toFixed(1)} s, max RSS ${rss} MiB`;
    };

    for (let k = 1; k <= row.kills; k++) {
      const child = await launch();
      const when = await waitForTarget(child);
      child.proc.kill('SIGKILL');
      const { signal, code } = await child.exited;
      timeline.push(`processor ${signal ?? `exited ${code}`} ${when}${await handedOver()}, ${runTime()}`);
      fold(child);
    }
    const last = await launch();
    for (let k = 1; k <= serverKills; k++) {
      const when = await waitForTarget(last, progressOf(last));
      // Read before the kill: the harness reconnects only after the restart.
      const at = await handedOver();
      await server.kill();
      const downMs = 200 + Math.floor(rnd() * 800);
      await sleep(downMs);
      await server.restart();
      timeline.push(`nats-server SIGKILL ${when}${at}, ${runTime()}, restarted after ${downMs} ms`);
    }
    const isComplete = async (): Promise<boolean> => {
      switch (row.complete ?? { stream: 'consumers' as const, core: 'quiet' as const, none: 'outputs' as const }[source]) {
        case 'consumers':
          return consumersDone(jsm, io.stream, lastSeq, consumers);
        case 'outputs':
          return outputsDone();
        case 'files': {
          const distinct = new Set(row.readFiles!(io.dir, []).outputs.map((o) => `${o.to} ${o.id ?? ''}`));
          return distinct.size >= expectedOutputs;
        }
        case 'quiet': {
          if (publisher === undefined) return false;
          await publisher;
          const before = progressOf(last);
          await sleep(1000);
          return progressOf(last) === before;
        }
      }
    };
    const completed = await waitFor(isComplete, () => last.proc.exitCode !== null, row.timeoutMs ?? 40_000);
    timeline.push(`last run ${completed ? 'completed' : 'did NOT complete'} ${runTime()}`);
    last.proc.kill('SIGTERM');
    const { code } = await last.exited;
    fold(last);
    if (sub !== undefined) {
      await nc.flush();
      await sleep(300);
      sub.unsubscribe();
    }
    if (output === 'stream') {
      const readFrom = Date.now();
      for (const o of await readStreams(nc, outStreams, (m) => decode(m.subject, m.data, m.headers?.get('Nats-Msg-Id')))) outputs.push(...o);
      timeline.push(`outputs read back in ${((Date.now() - readFrom) / 1000).toFixed(1)} s`);
    }
    const fileProblems: string[] = [];
    if (output === 'files') {
      const published =
        row.readFiles !== undefined ? (await readStreams(nc, outStreams, (m) => decode(m.subject, m.data, m.headers?.get('Nats-Msg-Id')))).flat() : [];
      const read = row.readFiles?.(io.dir, published) ?? { outputs: readOutputFiles(join(io.dir, 'out')), problems: [] };
      for (const o of read.outputs) outputs.push(o);
      fileProblems.push(...read.problems.slice(0, 5));
    }
    const tally = tallyOutputs(inputs, outputs, expect, {
      payloadOk: row.payloadOk,
      msgIdPart: row.guarantee === 'exactly-once' && (row.msgIds ?? 'position') === 'position' ? (i) => `.${io.stream}:${i.seq}.` : undefined,
    });
    const result: CrashResult = {
      ...tally,
      problems: [...tally.problems, ...fileProblems, ...(row.checkOutputs?.(outputs) ?? []).slice(0, 5)],
      title: row.title,
      guarantee: row.guarantee,
      seed,
      inputs: row.inputs,
      kills: row.kills + serverKills,
      timeline,
      exitCode: code,
      completed,
      deadLetters: totals.deadLetters,
      unsettledOutputs: totals.unsettledOutputs,
      maxRssBytes: totals.maxRssBytes,
      redelivered: source === 'stream' ? totals.received - row.inputs : 0,
      durationMs: Date.now() - startedAt,
      stderr: last.stderr(),
    };
    console.log(formatCrashResult(result));
    return result;
  } finally {
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    for (const s of [io.stream, ...outStreams, `SLUICE_DLQ_${io.name}`]) await jsm.streams.delete(s).catch(() => false);
    await nc.close();
    rmSync(io.dir, { recursive: true, force: true });
  }
}

/** What a result breaks of its row's guarantee (empty when it holds). */
export function guaranteeViolations(r: CrashResult): string[] {
  const v: string[] = [];
  if (!r.completed) v.push('the work did not complete in time');
  if (r.exitCode !== 0) v.push(`the last run exited ${r.exitCode} after SIGTERM: ${r.stderr}`);
  if (r.unexpected > 0) v.push(`${r.unexpected} unexpected outputs`);
  if (r.guarantee !== 'at-most-once' && r.lost > 0) v.push(`${r.lost} outputs lost`);
  if (r.guarantee !== 'at-least-once' && r.duplicated > 0) v.push(`${r.duplicated} outputs duplicated`);
  if (r.guarantee !== 'at-most-once' && r.deadLetters > 0) v.push(`${r.deadLetters} inputs dead-lettered`);
  if (r.guarantee !== 'at-most-once' && r.unsettledOutputs > 0) v.push(`${r.unsettledOutputs} values reached a sink after their input settled`);
  return [...v, ...r.problems];
}

/** One line for the test log: the row, its seed (reproduce with SLUICE_CRASH_SEED), the kills and the counts. */
export function formatCrashResult(r: CrashResult): string {
  const mib = (r.maxRssBytes / 1024 / 1024).toFixed(0);
  return (
    `crash row "${r.title}" (${r.guarantee}): seed ${r.seed}; ${r.inputs} inputs; ${r.kills} kills [${r.timeline.join('; ')}]; ` +
    `outputs ${r.outputs}: lost ${r.lost}, duplicated ${r.duplicated}, unexpected ${r.unexpected}; inputs redelivered ${r.redelivered}; dead letters ${r.deadLetters}; ` +
    `unsettled outputs ${r.unsettledOutputs}; max RSS ${mib} MiB; ${(r.durationMs / 1000).toFixed(1)} s` +
    (r.problems.length > 0 ? `; problems: ${r.problems.join(' | ')}` : '')
  );
}

/**
 * `expected` durable consumers of `stream` exist and each has acknowledged everything up to
 * `lastSeq`. An ordered read's consumer is left out: it acknowledges nothing, and its ack floor
 * is whatever it delivered to the client (all of the stream at once, before the child counted one).
 */
async function consumersDone(jsm: JetStreamManager, stream: string, lastSeq: number, expected: number): Promise<boolean> {
  try {
    let consumers = 0;
    for await (const ci of jsm.consumers.list(stream)) {
      if (ci.config.ack_policy === AckPolicy.None) continue;
      consumers++;
      if (ci.ack_floor.stream_seq < lastSeq || ci.num_ack_pending > 0 || ci.num_pending > 0) return false;
    }
    return consumers >= expected;
  } catch {
    return false; // the server is restarting
  }
}

/** Messages in all of `streams` (a stream not made yet, or a server restarting, counts 0). */
async function streamMessages(jsm: JetStreamManager, streams: readonly string[]): Promise<number> {
  let n = 0;
  for (const stream of streams)
    n += await jsm.streams.info(stream).then(
      (i) => i.state.messages,
      () => 0,
    );
  return n;
}

/** Every message of `streams`, decoded, one stream after the other. */
async function readStreams<T>(nc: NatsConnection, streams: readonly string[], decode: (m: JsMsg) => T): Promise<T[]> {
  const all: T[] = [];
  for (const stream of streams) all.push(...(await readStreamDecoded(nc, stream, decode)));
  return all;
}

async function waitFor(cond: () => Promise<boolean>, abandon: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !abandon()) {
    if (await cond()) return true;
    await sleep(100);
  }
  return false;
}

async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function hashOf(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}
