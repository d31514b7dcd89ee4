/** A message reached a key that supervision stopped; it waits in the dead letters until a reset. */
export class KeyStoppedError extends Error {
  override readonly name = 'KeyStoppedError';
  constructor(
    readonly actor: string,
    readonly key: string,
    readonly stoppedBy: { readonly name: string; readonly message: string },
    options?: ErrorOptions,
  ) {
    super(`actor '${actor}': key '${key}' is stopped (after ${stoppedBy.name}: ${stoppedBy.message}); reset it to resume`, options);
  }
}

/** An actor's `key` function threw or returned something that is not a non-empty string. */
export class InvalidActorKeyError extends Error {
  override readonly name = 'InvalidActorKeyError';
  constructor(
    readonly actor: string,
    readonly subject: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`actor '${actor}': no key for message on subject '${subject}': ${detail}`, options);
  }
}

/**
 * A message's actor key is longer than actors take (`MAX_ACTOR_KEY_BYTES`). The key becomes an
 * LMDB key and a subject token (timers, tells, state queries), both of which have size limits.
 */
export class KeyTooLongError extends Error {
  override readonly name = 'KeyTooLongError';
  constructor(
    readonly actor: string,
    readonly subject: string,
    readonly seq: number | undefined,
    readonly keyBytes: number,
    readonly limitBytes: number,
    options?: ErrorOptions,
  ) {
    super(
      `actor '${actor}': the key of the message on subject '${subject}' (seq ${seq ?? 'none'}) is ${keyBytes} bytes, longer than the ${limitBytes} bytes an actor key may be`,
      options,
    );
  }
}
