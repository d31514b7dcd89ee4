import { asyncScheduler, type SchedulerLike } from 'rxjs';
import type { BatchLimits } from './batch-accumulator.js';
import { batchSizeOf } from './batch-size-of.js';
import { optionalInt, optionalNumber, requireInt, requireNumber } from './validate-config.js';

/** The limit fields of `MicroBatchConfig` (micro-batch.ts documents them), as given. */
export interface BatchLimitsConfig<T> {
  maxCount: number;
  maxWaitMs: number;
  maxBytes?: number | undefined;
  idleMs?: number | undefined;
  sizeOf?: ((value: T) => number) | undefined;
  scheduler?: SchedulerLike | undefined;
}

/** Validates micro-batch limits at operator creation; shared by `microBatch` and `microBatchProcess`. */
export function validateBatchLimits<T>(component: string, config: BatchLimitsConfig<T>): BatchLimits<T> {
  const maxCount = requireInt(component, 'maxCount', config.maxCount, 1);
  const maxWaitMs = requireNumber(component, 'maxWaitMs', config.maxWaitMs, 0);
  const maxBytes = optionalInt(component, 'maxBytes', config.maxBytes, 1);
  const idleMs = optionalNumber(component, 'idleMs', config.idleMs, 0);
  const sizeOf = config.sizeOf ?? batchSizeOf;
  return { maxCount, maxWaitMs, maxBytes, idleMs, sizeOf, scheduler: config.scheduler ?? asyncScheduler };
}
