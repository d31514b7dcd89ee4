import { C1, Packr } from 'msgpackr';
import type { Codec } from './codec.js';

/**
 * Standard MessagePack, readable by any language's msgpack library: msgpackr's record and
 * shared-structure extensions are turned off on the wire (they are only for LMDB, where Sluice
 * alone reads them).
 */
export const msgpackCodec: Codec = (() => {
  const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, variableMapSize: true });
  return {
    contentType: 'application/msgpack',
    encode: (value) => packr.pack(value),
    decode: (bytes) => {
      if (bytes.length === 0) throw new Error('empty payload');
      const value: unknown = packr.unpack(bytes);
      // 0xC1 is "never used" in the MessagePack spec; msgpackr hands back a marker instead of failing.
      if (value === C1) throw new Error('byte 0xC1 is not valid MessagePack');
      return value;
    },
  };
})();
