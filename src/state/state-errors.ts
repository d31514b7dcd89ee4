/**
 * The state directory cannot be used: it is a file, cannot be created, or is not writable. The
 * message names the directory and what to do (`SLUICE_STATE_DIR` picks another one).
 */
export class StateDirectoryError extends Error {
  override readonly name: string = 'StateDirectoryError';
  constructor(
    readonly dir: string,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`state directory '${dir}' is unusable: ${reason}`, options);
  }
}

/**
 * The state directory is on a filesystem LMDB cannot keep a store on (`/proc`, `/sys` and other
 * kernel pseudo-filesystems: no memory map, no locks). Found before anything is written.
 */
export class UnsupportedStateDirectoryError extends StateDirectoryError {
  override readonly name: string = 'UnsupportedStateDirectoryError';
  constructor(
    dir: string,
    readonly filesystem: string,
    options?: ErrorOptions,
  ) {
    super(
      dir,
      `it is on a ${filesystem} filesystem, which cannot hold an LMDB store: set SLUICE_STATE_DIR (or stateDir) to a directory on a local disk`,
      options,
    );
  }
}

/**
 * Another live process has this state directory open. One process per store: stop the other,
 * or give this one its own directory (SLUICE_STATE_DIR).
 */
export class StateDirectoryInUseError extends StateDirectoryError {
  override readonly name: string = 'StateDirectoryInUseError';
  constructor(
    dir: string,
    readonly pid: number,
    options?: ErrorOptions,
  ) {
    super(dir, `process ${pid} has it open (one process per state directory): stop that process, or set SLUICE_STATE_DIR to another directory`, options);
  }
}

/**
 * The state store cannot take more data: its size limit (`mapSizeBytes`) is reached, or the disk
 * holding it is full. Nothing of the failed commit was written. The two causes have their own
 * subclasses, {@link StateMapFullError} and {@link StateDiskFullError}.
 */
export class StateFullError extends Error {
  override readonly name: string = 'StateFullError';
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

/** The store reached its size limit, `mapSizeBytes` (LMDB's map size): raise it. */
export class StateMapFullError extends StateFullError {
  override readonly name: string = 'StateMapFullError';
  constructor(dir: string, usedBytes: number, mapSizeBytes: number, options?: ErrorOptions) {
    super(
      dir,
      usedBytes,
      mapSizeBytes,
      `the size limit is reached: raise 'mapSizeBytes' above ${mapSizeBytes} (e.g. to ${mapSizeBytes * 2}; for the store of a topology's actors and durable batches, SLUICE_STATE_MAP_SIZE_BYTES)`,
      options,
    );
  }
}

/** The disk (filesystem) holding the store has no room left: free space, or move the state directory. */
export class StateDiskFullError extends StateFullError {
  override readonly name: string = 'StateDiskFullError';
  constructor(
    dir: string,
    usedBytes: number,
    mapSizeBytes: number,
    readonly freeBytes: number,
    options?: ErrorOptions,
  ) {
    super(
      dir,
      usedBytes,
      mapSizeBytes,
      `the disk holding it is full (${freeBytes < 0 ? 'unknown' : freeBytes} bytes free): free space there, or set SLUICE_STATE_DIR to a disk with room`,
      options,
    );
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

/**
 * A file of a `fileBatchBuffer` holds a damaged record where no crash can leave one: inside a
 * sealed batch, or found by a read. (A commit torn by a crash at the tail of the open batch is
 * cut on recovery without an error.) The batch's values from that record on cannot be read:
 * restore the file, or move it away to drop the batch.
 */
export class BatchBufferCorruptError extends Error {
  override readonly name = 'BatchBufferCorruptError';
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`batch buffer file '${file}' is damaged at byte ${offset}: ${reason}`);
  }
}
