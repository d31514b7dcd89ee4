import { MSGPACK_FIXED_SIZE } from './msgpack-item-size.js';

const TWO_32 = 0x1_0000_0000;
// Scratch for reading a big-endian float64 without a DataView per call.
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Turns msgpackr's output into the wire form Sluice promises, in place where it can:
 *
 * - msgpackr writes every number outside the 32-bit range as float64, integers included; here
 *   each float64 holding a safe integer becomes uint64 (0xcf) or int64 (0xd3). Same 9 bytes, so
 *   the rewrite is in place.
 * - msgpackr writes `undefined` (and functions) as fixext1 type 0, which only msgpackr reads; here
 *   an object field whose value is undefined is dropped and any other undefined becomes nil, which
 *   is what `JSON.stringify` does. This needs a copy, made only when a marker was seen.
 *
 * One linear pass over the bytes: containers are just headers followed by their items, so no
 * recursion. `bytes` must be well-formed MessagePack (msgpackr's own output).
 */
export function standardizeMsgpack(bytes: Uint8Array): Uint8Array {
  const n = bytes.length;
  let sawUndefined = false;
  let i = 0;
  while (i < n) {
    const b = bytes[i]!;
    const fixed = MSGPACK_FIXED_SIZE[b]!;
    if (fixed !== 0) {
      i += fixed;
      continue;
    }
    if (b === 0xcb) {
      if (littleEndian) for (let k = 0; k < 8; k++) f64Bytes[7 - k] = bytes[i + 1 + k]!;
      else for (let k = 0; k < 8; k++) f64Bytes[k] = bytes[i + 1 + k]!;
      const v = f64[0]!;
      if (Number.isSafeInteger(v)) writeInt64(bytes, i, v);
      i += 9;
    } else if (b === 0xd4) {
      if (bytes[i + 1] === 0) sawUndefined = true;
      i += 3;
    } else {
      i += variableSize(bytes, i, b);
    }
  }
  return sawUndefined ? dropUndefined(bytes) : bytes;
}

/** Writes the safe integer `v` as uint64 (v >= 0) or int64 over the 9 bytes at `i`. */
function writeInt64(bytes: Uint8Array, i: number, v: number): void {
  const hi = Math.floor(v / TWO_32); // negative for v < 0: two's complement high word
  const lo = v - hi * TWO_32;
  bytes[i] = v >= 0 ? 0xcf : 0xd3;
  bytes[i + 1] = hi >>> 24;
  bytes[i + 2] = hi >>> 16;
  bytes[i + 3] = hi >>> 8;
  bytes[i + 4] = hi;
  bytes[i + 5] = lo >>> 24;
  bytes[i + 6] = lo >>> 16;
  bytes[i + 7] = lo >>> 8;
  bytes[i + 8] = lo;
}

/** Size of a str, bin or ext item (its first byte `b` has no fixed size). */
export function variableSize(bytes: Uint8Array, i: number, b: number): number {
  switch (b) {
    case 0xc4:
    case 0xd9:
      return 2 + bytes[i + 1]!;
    case 0xc5:
    case 0xda:
      return 3 + ((bytes[i + 1]! << 8) | bytes[i + 2]!);
    case 0xc6:
    case 0xdb:
      return 5 + u32(bytes, i + 1);
    case 0xc7:
      return 3 + bytes[i + 1]!;
    case 0xc8:
      return 4 + ((bytes[i + 1]! << 8) | bytes[i + 2]!);
    case 0xc9:
      return 6 + u32(bytes, i + 1);
    case 0xcb:
      return 9;
    case 0xd4:
      return 3;
    default:
      // Only reachable on bytes msgpackr did not write; a size of 1 keeps a scan moving.
      return 1;
  }
}

/** The big-endian unsigned 32-bit integer at `i`. */
export function u32(bytes: Uint8Array, i: number): number {
  return ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
}

// The compaction's cursor: read position, write position (never ahead of the read position, so
// the copy can be made within the same buffer), and the buffer.
const NONE = new Uint8Array(0);
let src: Uint8Array = NONE;
let ri = 0;
let wo = 0;

/**
 * Removes the undefined markers (fixext1 type 0) from `bytes`, in place: a map entry whose value
 * is one is left out and the map's count lowered (its header keeps its width: a map16 holding 3
 * entries is still valid MessagePack); a marker anywhere else becomes nil. Recursive: the nesting
 * is no deeper than what msgpackr's packer has just recursed through.
 */
function dropUndefined(bytes: Uint8Array): Uint8Array {
  src = bytes;
  ri = 0;
  wo = 0;
  try {
    while (ri < bytes.length) copyItem();
    return bytes.subarray(0, wo);
  } finally {
    src = NONE; // not holding on to the caller's bytes
  }
}

function isMarker(): boolean {
  return src[ri] === 0xd4 && src[ri + 1] === 0;
}

function copyBytes(size: number): void {
  // A loop, not copyWithin: most items are a few bytes, less than the call costs.
  if (wo !== ri) for (let k = 0; k < size; k++) src[wo + k] = src[ri + k]!;
  ri += size;
  wo += size;
}

/** Copies the item at `ri` to `wo`, markers dropped. */
function copyItem(): void {
  const b = src[ri]!;
  if (isMarker()) {
    ri += 3;
    src[wo++] = 0xc0;
    return;
  }
  const isMap = (b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf;
  const isArray = (b >= 0x90 && b <= 0x9f) || b === 0xdc || b === 0xdd;
  if (!isMap && !isArray) {
    const fixed = MSGPACK_FIXED_SIZE[b]!;
    copyBytes(fixed !== 0 ? fixed : variableSize(src, ri, b));
    return;
  }
  const headerSize = b <= 0x9f ? 1 : b === 0xdc || b === 0xde ? 3 : 5;
  const count = headerSize === 1 ? b & 0x0f : headerSize === 3 ? (src[ri + 1]! << 8) | src[ri + 2]! : u32(src, ri + 1);
  const headerAt = wo;
  copyBytes(headerSize);
  if (isArray) {
    for (let k = 0; k < count; k++) copyItem();
    return;
  }
  let written = 0;
  for (let k = 0; k < count; k++) {
    const keyAt = wo;
    copyItem();
    if (isMarker()) {
      ri += 3;
      wo = keyAt; // leave the entry out: rewind over its key
    } else {
      copyItem();
      written += 1;
    }
  }
  if (headerSize === 1) src[headerAt] = 0x80 | written;
  else if (headerSize === 3) {
    src[headerAt + 1] = written >>> 8;
    src[headerAt + 2] = written;
  } else {
    src[headerAt + 1] = written >>> 24;
    src[headerAt + 2] = written >>> 16;
    src[headerAt + 3] = written >>> 8;
    src[headerAt + 4] = written;
  }
}
