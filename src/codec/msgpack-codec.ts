import { Packr } from 'msgpackr';
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
      return packr.unpack(bytes);
    },
  };
})();
