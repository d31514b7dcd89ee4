/**
 * `process` threw for a micro-batch. Nothing of the batch was committed; the engine stops, and a
 * restart processes the batch again from the last checkpoint. Per-message failures (bad input, a
 * handler error) belong inside `process` (dead letters); this error means the batch itself failed.
 */
export class BatchFailedError extends Error {
  override readonly name = 'BatchFailedError';
  constructor(
    readonly engine: string,
    readonly stream: string,
    readonly firstSeq: number,
    readonly lastSeq: number,
    options?: ErrorOptions,
  ) {
    const why = options?.cause instanceof Error ? `${options.cause.name}: ${options.cause.message}` : String(options?.cause);
    super(`exactly-once engine '${engine}': batch ${stream}:${firstSeq}..${lastSeq} failed and was not committed: ${why}`, options);
  }
}

/** The engine stopped (or failed) before what was awaited happened. */
export class EngineStoppedError extends Error {
  override readonly name = 'EngineStoppedError';
  constructor(
    readonly engine: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`exactly-once engine '${engine}' ${detail}`, options);
  }
}

/**
 * A period batch's `keyOf`, `periodOf` or `closeOf` returned something other than a non-empty
 * string for one message: that message is dead-lettered (the batch goes on).
 */
export class PeriodLabelError extends Error {
  override readonly name = 'PeriodLabelError';
  constructor(
    readonly batch: string,
    readonly field: 'keyOf' | 'periodOf' | 'closeOf',
    readonly value: unknown,
  ) {
    super(
      `period batch '${batch}': 'periods.${field}' must return a non-empty string, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`,
    );
  }
}
