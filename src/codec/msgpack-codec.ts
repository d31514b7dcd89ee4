import { C1, Packr, Unpackr, type Options } from 'msgpackr';
import { checkMsgpack } from './check-msgpack.js';
import { isPlainMsgpackItem } from './is-plain-msgpack-item.js';
import type { Codec } from './codec.js';
import { standardizeMsgpack } from './standardize-msgpack.js';

/**
 * Standard MessagePack, readable by any language's msgpack library (docs/wire.md is the
 * contract): no msgpackr records or extensions, integers as integers (int64/uint64 past 32 bits),
 * `undefined` fields left out, Dates as the standard timestamp (extension -1), and nothing else
 * as an extension. Decoding gives numbers for integers up to 2^53 and BigInt beyond, and refuses
 * extension types other than -1.
 */
export const msgpackCodec: Codec = (() => {
  const packr = new Packr({
    useRecords: false,
    moreTypes: false,
    variableMapSize: true,
    // Written as fixext1 type 0 and removed by standardizeMsgpack: a field must disappear, which
    // nil could not say.
    encodeUndefinedAsNil: false,
    onInvalidDate: () => null,
  });
  // A decoded binary must not keep the whole received buffer alive: copyBuffers.
  const unpackOptions = { useRecords: false, mapsAsObjects: true, copyBuffers: true } as const;
  // 64-bit integers as numbers: exact up to 2^53, which checkMsgpack has seen they all are.
  const unpackr = new Unpackr({ ...unpackOptions, int64AsType: 'number' });
  // 'auto' (in msgpackr, not in its typings): a number up to 2^53, a BigInt beyond.
  const exactUnpackr = new Unpackr({ ...unpackOptions, int64AsType: 'auto' as Options['int64AsType'] });
  const decode = (bytes: Uint8Array): unknown => {
    if (bytes.length === 0) throw new Error('empty payload');
    const value: unknown = (checkMsgpack(bytes) ? exactUnpackr : unpackr).unpack(bytes);
    // 0xC1 is "never used" in the MessagePack spec; msgpackr hands back a marker instead of failing.
    if (value === C1) throw new Error('byte 0xC1 is not valid MessagePack');
    return value;
  };
  return {
    contentType: 'application/msgpack',
    encode(value) {
      return standardizeMsgpack(packr.pack(value));
    },
    decode,
    decodeMany(payloads) {
      // One unpack of them all as an array (array32 header, then each payload as it is): msgpackr
      // pays its fixed cost per call (the native extraction of a message's strings, mostly) once
      // per batch instead of once per payload. Only plain payloads go in (isPlainMsgpackItem);
      // any other is decoded alone, as `decode` would.
      const values: unknown[] = new Array<unknown>(payloads.length);
      const bulk: number[] = [];
      let size = 5;
      for (let k = 0; k < payloads.length; k++) {
        const p = payloads[k]!;
        if (p.length > 0 && isPlainMsgpackItem(p)) {
          bulk.push(k);
          size += p.length;
        } else values[k] = decode(p);
      }
      if (bulk.length === 0) return values;
      const all = Buffer.allocUnsafe(size);
      all[0] = 0xdd;
      all.writeUInt32BE(bulk.length, 1);
      let at = 5;
      for (const k of bulk) {
        all.set(payloads[k]!, at);
        at += payloads[k]!.length;
      }
      const decoded = unpackr.unpack(all) as unknown[];
      if (!Array.isArray(decoded) || decoded.length !== bulk.length) throw new Error(`decoded ${String(decoded?.length)} values from ${bulk.length} payloads`);
      for (let j = 0; j < bulk.length; j++) values[bulk[j]!] = decoded[j];
      return values;
    },
  };
})();
