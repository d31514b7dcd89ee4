import { Packr } from 'msgpackr';
import type { BatchProcessor } from '../../../src/exactly-once/types.js';
import type { StateStore } from '../../../src/state/types.js';
import type { Transport } from '../../../src/transport/transport.js';
import { readStream } from '../../helpers/read-stream.js';

/**
 * The processor the exactly-once proofs run: a per-key counter emitting one output per input
 * (`{ k, n }` on `<outPrefix>.<k>`), written directly against `BatchProcessor` so the proofs do not
 * depend on the actors layer. Shared by the property test and the crash tests.
 */
export const COUNTER_NS = 'counter';
const packr = new Packr({ useRecords: false });

export const encodeInput = (key: string): Uint8Array => packr.pack({ k: key });

export function counterProcessor(outPrefix: string): BatchProcessor {
  return (batch, txn) => {
    for (const m of batch) {
      const { k } = packr.unpack(m.data) as { k: string };
      const n = (txn.get<{ n: number }>(COUNTER_NS, k)?.n ?? 0) + 1;
      txn.put(COUNTER_NS, k, { n });
      txn.emit(m, `${outPrefix}.${k}`, packr.pack({ k, n }));
    }
  };
}

/** An output as read back from the output stream. */
export interface StoredOutput {
  readonly seq: number;
  readonly id: string;
  readonly k: string;
  readonly n: number;
}

/** Publishes inputs with acks, a window at a time; returns their stream sequences. */
export async function publishInputs(transport: Transport, subjectPrefix: string, keys: readonly string[]): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < keys.length; i += 500) {
    const acks = await Promise.all(keys.slice(i, i + 500).map((k) => transport.publishDurable(`${subjectPrefix}.${k}`, encodeInput(k))));
    seqs.push(...acks.map((a) => a.seq));
  }
  return seqs;
}

/** Reads a whole stream (up to its last sequence now) with an ordered consumer. */
export async function readOutputs(transport: Transport, stream: string): Promise<StoredOutput[]> {
  return (await readStream(transport, stream)).map((m) => {
    const { k, n } = packr.unpack(m.data) as { k: string; n: number };
    return { seq: m.seq, id: m.headers['Nats-Msg-Id'] ?? '', k, n };
  });
}

/**
 * The three checks of the exactly-once proofs, against a sequential reference model of the
 * inputs (`keys[i]` at stream sequence `seqs[i]`): (1) the final state equals the model's,
 * (2) every expected output is on the output stream exactly once and nothing else is, (3) per key,
 * outputs appear in input order. Returns human-readable problems (empty when all hold).
 */
export function checkExactlyOnce(args: {
  idPrefix: string;
  keys: readonly string[];
  seqs: readonly number[];
  outputs: readonly StoredOutput[];
  store: StateStore;
}): string[] {
  const problems: string[] = [];
  const model = new Map<string, number>();
  const expected = new Map<string, { k: string; n: number }>();
  args.keys.forEach((k, i) => {
    const n = (model.get(k) ?? 0) + 1;
    model.set(k, n);
    expected.set(`${args.idPrefix}${args.seqs[i]}.0`, { k, n });
  });
  const byId = new Map<string, StoredOutput[]>();
  for (const o of args.outputs) byId.set(o.id, [...(byId.get(o.id) ?? []), o]);
  for (const [id, want] of expected) {
    const got = byId.get(id) ?? [];
    if (got.length !== 1) problems.push(`output ${id} published ${got.length} times`);
    else if (got[0]!.k !== want.k || got[0]!.n !== want.n) problems.push(`output ${id} is ${JSON.stringify(got[0])}, expected ${JSON.stringify(want)}`);
  }
  for (const id of byId.keys()) if (!expected.has(id)) problems.push(`unexpected output ${id}`);
  const lastN = new Map<string, number>();
  for (const o of args.outputs) {
    const prev = lastN.get(o.k) ?? 0;
    if (o.n !== prev + 1) problems.push(`key ${o.k}: output n=${o.n} at stream seq ${o.seq} follows n=${prev}`);
    lastN.set(o.k, o.n);
  }
  for (const [k, n] of model) {
    const s = args.store.get<{ n: number }>(COUNTER_NS, k);
    if (s?.n !== n) problems.push(`state of ${k} is ${JSON.stringify(s)}, expected { n: ${n} }`);
  }
  const stateKeys = [...args.store.entries(COUNTER_NS)].map((e) => e.key);
  for (const k of stateKeys) if (!model.has(k)) problems.push(`unexpected state key ${k}`);
  return problems.slice(0, 20);
}

/** Creates the input and output streams of one proof run. */
export async function createStreams(
  transport: Transport,
  names: { input: string; inSubject: string; output: string; outSubject: string; duplicateWindowMs?: number },
): Promise<void> {
  await transport.ensureStream({ name: names.input, subjects: [`${names.inSubject}.>`] });
  await transport.ensureStream({ name: names.output, subjects: [`${names.outSubject}.>`], duplicateWindowMs: names.duplicateWindowMs ?? 120_000 });
}
