import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});

/** Sluice headers → NATS headers; undefined when there are none, so the message goes out as a plain PUB. */
export function toNatsHeaders(record: Readonly<Record<string, string>> | undefined): MsgHdrs | undefined {
  if (record === undefined) return undefined;
  let out: MsgHdrs | undefined;
  // for...in, not Object.entries: this runs on every publish, mostly with no headers at all.
  for (const name in record) {
    if (!Object.hasOwn(record, name)) continue;
    out ??= natsHeaders();
    out.set(name, record[name]!);
  }
  return out;
}

/** NATS headers → one value per name (the first, when the wire had several), as `Envelope.headers` documents. */
export function fromNatsHeaders(hdrs: MsgHdrs | undefined): Readonly<Record<string, string>> {
  if (hdrs === undefined) return EMPTY;
  const out: Record<string, string> = {};
  for (const [name, values] of hdrs) {
    const first = values[0];
    if (first === undefined) continue;
    // Assigning `__proto__` would set the object's prototype (and drop the header): define it instead.
    if (name === '__proto__') Object.defineProperty(out, name, { value: first, enumerable: true, writable: true, configurable: true });
    else out[name] = first;
  }
  return out;
}
