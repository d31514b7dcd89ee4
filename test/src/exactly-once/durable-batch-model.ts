import { Packr } from 'msgpackr';
import type { BatchFlush } from '../../../src/exactly-once/durable-batch-types.js';
import type { Transport } from '../../../src/transport/transport.js';
import { readStream } from '../../helpers/read-stream.js';

/*
 * The reference model the durable-batch proofs check against, shared by the integration and the
 * crash tests: inputs are data messages and end-of-day triggers in one stream; the flush emits one
 * output per value carrying the value's input sequence, so each output says which input it is.
 */
const packr = new Packr({ useRecords: false });

/** One flush output per value: `{ s: <input seq>, n: <the input's payload number> }` on `subject`. */
export function echoFlush(subject: string): BatchFlush {
  return (chunk, emit) => {
    for (const r of chunk) emit(subject, packr.pack({ s: r.seq, n: (packr.unpack(r.data) as { n: number }).n }));
  };
}

/** Stream names of one run. Data goes to `<inSubject>.data`, triggers to `<inSubject>.eod`. */
export interface BatchNames {
  input: string;
  inSubject: string;
  output: string;
  outSubject: string;
}

export function batchNames(input: string, output: string): BatchNames {
  return { input, inSubject: input.toLowerCase(), output, outSubject: output.toLowerCase() };
}

export async function createBatchStreams(transport: Transport, names: BatchNames): Promise<void> {
  await transport.ensureStream({ name: names.input, subjects: [`${names.inSubject}.>`] });
  await transport.ensureStream({ name: names.output, subjects: [names.outSubject], duplicateWindowMs: 120_000 });
}

/**
 * Publishes `plan` in order (a number = that many data messages `{ n }`, n counting from 0;
 * `'eod'` = one trigger) and returns, per closed batch (1, 2, ...), the input sequences of its
 * values in order, the values after the last trigger as `open`, and each data input's `n`.
 */
export async function publishPlan(
  transport: Transport,
  names: BatchNames,
  plan: readonly (number | 'eod')[],
): Promise<{ batches: number[][]; open: number[]; lastSeq: number; dataOf: Map<number, number> }> {
  const batches: number[][] = [];
  let current: number[] = [];
  let lastSeq = 0;
  const dataOf = new Map<number, number>();
  let n = 0;
  for (const step of plan) {
    if (step === 'eod') {
      lastSeq = (await transport.publishDurable(`${names.inSubject}.eod`, new Uint8Array(0))).seq;
      if (current.length > 0) batches.push(current);
      current = [];
      continue;
    }
    for (let i = 0; i < step; i += 1000) {
      const size = Math.min(1000, step - i);
      const ns = Array.from({ length: size }, () => n++);
      const acks = await Promise.all(ns.map((x) => transport.publishDurable(`${names.inSubject}.data`, packr.pack({ n: x }))));
      acks.forEach((a, j) => {
        current.push(a.seq);
        dataOf.set(a.seq, ns[j]!);
      });
      lastSeq = acks[acks.length - 1]!.seq;
    }
  }
  return { batches, open: current, lastSeq, dataOf };
}

/** An output as stored: its `Nats-Msg-Id`, the input sequence and payload number it carries. */
export interface BatchOutput {
  readonly id: string;
  readonly s: number;
  readonly n: number;
}

/** Reads the whole output stream (up to its last sequence now). */
export async function readBatchOutputs(transport: Transport, stream: string): Promise<BatchOutput[]> {
  return (await readStream(transport, stream)).map((m) => {
    const { s, n } = packr.unpack(m.data) as { s: number; n: number };
    return { id: m.headers['Nats-Msg-Id'] ?? '', s, n };
  });
}

/**
 * Checks that every value of every closed batch was published exactly once under the id
 * `<idPrefix><batch>.<index>` (index = its position in the batch) with the payload its input had
 * (`dataOf`), that no input appears twice (under any id), and that nothing else was published.
 * Returns problems (empty when all hold).
 */
export function checkBatchOutputs(
  idPrefix: string,
  published: { batches: readonly (readonly number[])[]; dataOf: ReadonlyMap<number, number> },
  outputs: readonly BatchOutput[],
): string[] {
  const { batches, dataOf } = published;
  const problems: string[] = [];
  const byId = new Map<string, number[]>();
  const byInput = new Map<number, number>();
  for (const o of outputs) {
    if (dataOf.get(o.s) !== o.n) problems.push(`output ${o.id}: input ${o.s} carried n=${dataOf.get(o.s)}, the output says ${o.n}`);
    byId.set(o.id, [...(byId.get(o.id) ?? []), o.s]);
    byInput.set(o.s, (byInput.get(o.s) ?? 0) + 1);
  }
  let expectedCount = 0;
  batches.forEach((seqs, b) => {
    seqs.forEach((s, i) => {
      expectedCount += 1;
      const id = `${idPrefix}${b + 1}.${i}`;
      const got = byId.get(id) ?? [];
      if (got.length !== 1 || got[0] !== s) problems.push(`output ${id}: got inputs ${JSON.stringify(got)}, expected [${s}]`);
    });
  });
  for (const [s, n] of byInput) if (n > 1) problems.push(`input ${s} published ${n} times`);
  if (outputs.length !== expectedCount) problems.push(`${outputs.length} outputs, expected ${expectedCount}`);
  return problems.slice(0, 20);
}
