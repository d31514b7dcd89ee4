import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { msgpackCodec } from '../../src/index.js';
import type { CrashInput, CrashOutput } from './crash-tally.js';

/*
 * How a crash row's inputs get in and its file outputs come out. Every input payload is
 * msgpack `{ id, n }` (plus `pad` when asked), and every publish carries the id as `Nats-Msg-Id`.
 */

/** Outputs written as files: `<target>.<anything>.json`, each a JSON array of payloads. */
export function readOutputFiles(dir: string): CrashOutput[] {
  const out: CrashOutput[] = [];
  for (const file of existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : []) {
    const to = file.slice(0, file.indexOf('.'));
    for (const data of JSON.parse(readFileSync(join(dir, file), 'utf8')) as { id?: unknown }[]) {
      out.push({ id: typeof data.id === 'string' ? data.id : undefined, to, data });
    }
  }
  return out;
}

/** Where inputs are published: one subject, or one per input (a topology that reads `crm.changes.<table>`, say). */
export type InputSubject = string | ((input: CrashInput) => string);

function subjectOf(subject: InputSubject, input: CrashInput): string {
  return typeof subject === 'string' ? subject : subject(input);
}

/** The payload of an input: its id and number, and optional padding. */
export function inputEncoder(padBytes: number): (input: CrashInput) => Uint8Array {
  const pad = padBytes > 0 ? { pad: 'x'.repeat(padBytes) } : {};
  return (input) => msgpackCodec.encode({ id: input.id, n: input.n, ...pad });
}

export async function publishToStream(
  nc: NatsConnection,
  subject: InputSubject,
  inputs: readonly CrashInput[],
  encode: (input: CrashInput) => Uint8Array,
): Promise<CrashInput[]> {
  const js = jetstream(nc);
  const out: CrashInput[] = [];
  for (let i = 0; i < inputs.length; i += 1000) {
    const window = inputs.slice(i, i + 1000);
    const acks = await Promise.all(window.map((input) => js.publish(subjectOf(subject, input), encode(input), { msgID: input.id })));
    acks.forEach((ack, j) => out.push({ ...window[j]!, seq: ack.seq }));
  }
  return out;
}

/** Core-publishes the inputs at about `ratePerSec`, 10 ms apart, whether or not anyone listens. */
export async function publishCore(
  nc: NatsConnection,
  subject: InputSubject,
  inputs: readonly CrashInput[],
  encode: (input: CrashInput) => Uint8Array,
  ratePerSec: number,
): Promise<void> {
  const perTick = Math.max(1, Math.round(ratePerSec / 100));
  for (let i = 0; i < inputs.length; i += perTick) {
    for (const input of inputs.slice(i, i + perTick)) {
      const h = natsHeaders();
      h.set('Nats-Msg-Id', input.id);
      nc.publish(subjectOf(subject, input), encode(input), { headers: h });
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await nc.flush();
}
