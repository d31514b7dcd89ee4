/** The state directory cannot be used: it is a file, cannot be created, or is not writable. */
export class StateDirectoryError extends Error {
  override readonly name = 'StateDirectoryError';
  constructor(
    readonly dir: string,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`state directory '${dir}' is unusable: ${reason}`, options);
  }
}

/**
 * The state store cannot take more data: its size limit (`mapSizeBytes`) is reached, or the disk
 * holding it is full. Nothing of the failed commit was written.
 */
export class StateFullError extends Error {
  override readonly name = 'StateFullError';
  constructor(
    readonly dir: string,
    readonly usedBytes: number,
    readonly mapSizeBytes: number,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`state store '${dir}' is full (${usedBytes} of ${mapSizeBytes} bytes used): ${detail}`, options);
  }
}

/** A namespace name is not one the store accepts. */
export class InvalidNamespaceError extends Error {
  override readonly name = 'InvalidNamespaceError';
  constructor(
    readonly namespace: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`invalid state namespace '${namespace}': ${detail}`, options);
  }
}
