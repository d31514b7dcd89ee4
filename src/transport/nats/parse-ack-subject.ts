/** Where a JetStream message comes from, as its ack subject says. */
export interface AckSubjectInfo {
  readonly stream: string;
  readonly streamSequence: number;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
}

const PREFIX = '$JS.ACK.';
// Dots after the prefix: 6 in the nats-server 2.9 form, 8 or 9 in the 2.10+ form.
const OLD_FORM_DOTS = 6;
const NEW_FORM_MIN_DOTS = 8;
const MAX_DOTS = 9;
// Scratch for the dot positions: filled and read within one synchronous call.
const dots = new Int32Array(MAX_DOTS);

/**
 * Stream, stream sequence and delivery count of a JetStream message, read from its ack (reply)
 * subject: `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`
 * (nats-server 2.9) or `$JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<stream seq>...`
 * (2.10+) — the two forms the v3 client's `JsMsg.info` reads. That getter splits the subject into
 * eleven strings and parses every field, which costs about as much as decoding a small payload;
 * this reads the three fields a stream source needs by position. Undefined for any other subject
 * (the caller then falls back to `JsMsg.info`, which throws for it).
 */
export function parseAckSubject(reply: string): AckSubjectInfo | undefined {
  if (!reply.startsWith(PREFIX)) return undefined;
  let count = 0;
  for (let at = reply.indexOf('.', PREFIX.length); at !== -1; at = reply.indexOf('.', at + 1)) {
    if (count === MAX_DOTS) return undefined;
    dots[count++] = at;
  }
  // Index of the dot before the stream token (-1: the prefix's own); the delivery count and the
  // stream sequence are two and three tokens after the stream.
  let before: number;
  if (count === OLD_FORM_DOTS) before = -1;
  else if (count >= NEW_FORM_MIN_DOTS) before = 1;
  else return undefined;
  const streamStart = before < 0 ? PREFIX.length : dots[before]! + 1;
  const stream = reply.slice(streamStart, dots[before + 1]);
  const deliveryCount = readUint(reply, dots[before + 2]! + 1, dots[before + 3]!);
  const streamSequence = readUint(reply, dots[before + 3]! + 1, dots[before + 4]!);
  if (stream === '' || deliveryCount === undefined || streamSequence === undefined) return undefined;
  return { stream, streamSequence, deliveryCount };
}

/** The decimal number in `s[from, to)`; undefined when empty or not all digits. */
function readUint(s: string, from: number, to: number): number | undefined {
  if (from >= to) return undefined;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  return n;
}
