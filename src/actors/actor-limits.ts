/**
 * The longest actor key, in UTF-8 bytes. A key is an LMDB key (state) and a subject token (tells,
 * timers, state queries); in the timers namespace its token — base64url, 4/3 as long, when the key
 * is not plain letters and digits — is followed by a timer id. 1024 keeps that under the store's
 * key limit (`MAX_STATE_KEY_BYTES`, 1900) and the subjects far under NATS's 4 KiB control line.
 * A longer key is dead-lettered as a `KeyTooLongError`.
 */
export const MAX_ACTOR_KEY_BYTES = 1024;

/** The longest timer id (`ctx.setTimer`, `ctx.cancelTimer`), UTF-8 bytes; a longer one is a `TerminalError`. */
export const MAX_TIMER_ID_BYTES = 256;
