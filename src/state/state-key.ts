/**
 * The longest key, in UTF-8 bytes, the state store takes: LMDB's key limit (1978 bytes in lmdb-js
 * 3.5) less the room the stored form `[partition, key]` needs, with margin. A longer key throws
 * on put in LMDB itself, in the commit of a whole batch: Sluice checks keys before they get there.
 */
export const MAX_STATE_KEY_BYTES = 1900;

/** Whether `key` is at most `limit` UTF-8 bytes. Counts bytes only for long keys: a UTF-16 unit is at most 3 bytes. */
export function keyFits(key: string, limit: number): boolean {
  return key.length * 3 <= limit || Buffer.byteLength(key, 'utf8') <= limit;
}

/** UTF-8 length of `key`. */
export function keyBytes(key: string): number {
  return Buffer.byteLength(key, 'utf8');
}

/** A state key is longer than the store takes ({@link MAX_STATE_KEY_BYTES}). */
export class StateKeyTooLongError extends Error {
  override readonly name = 'StateKeyTooLongError';
  constructor(
    readonly namespace: string,
    readonly keyBytes: number,
    options?: ErrorOptions,
  ) {
    super(
      `state namespace '${namespace}': a key of ${keyBytes} bytes is longer than the ${MAX_STATE_KEY_BYTES} bytes LMDB keys allow; hash long keys (keep the full key in the value) or reject the input`,
      options,
    );
  }
}
