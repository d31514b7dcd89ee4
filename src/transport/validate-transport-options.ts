import { InvalidConfigError } from '../errors.js';
import { validateSubject } from './subject.js';
import type { ConsumeOptions, OrderedReadOptions, RequestOptions, StreamConfig, SubscribeOptions } from './transport.js';

/** Defaults shared by both transports, so they behave alike when options are left out. */
export const TRANSPORT_DEFAULTS = {
  duplicateWindowMs: 120_000,
  maxInFlight: 1000,
  ackWaitMs: 30_000,
  publishTimeoutMs: 5000,
} as const;

/** Stream and consumer names become subject tokens in the JetStream API, so NATS restricts them. */
const NAME_PATTERN = /^[^\s.*>/\\]+$/;

/** Validates a stream config the same way for both transports. @throws InvalidConfigError, InvalidSubjectError */
export function validateStreamConfig(component: string, config: StreamConfig): void {
  if (!NAME_PATTERN.test(config.name)) {
    throw new InvalidConfigError(component, 'name', `must be non-empty without '.', '*', '>', '/', '\\' or whitespace, got '${config.name}'`);
  }
  if (config.subjects.length === 0) throw new InvalidConfigError(component, 'subjects', 'must list at least one subject');
  for (const subject of config.subjects) validateSubject(subject, { wildcards: true });
  nonNegative(component, 'duplicateWindowMs', config.duplicateWindowMs);
  nonNegative(component, 'maxAgeMs', config.maxAgeMs);
  positiveInteger(component, 'maxMessages', config.maxMessages);
  positiveInteger(component, 'maxBytes', config.maxBytes);
  if (config.storage !== undefined && config.storage !== 'file' && config.storage !== 'memory') {
    throw new InvalidConfigError(component, 'storage', `must be 'file' or 'memory', got '${String(config.storage)}'`);
  }
}

/** Consume options with defaults applied. */
export interface ResolvedConsumeOptions {
  stream: string;
  durableName: string | undefined;
  startSeq: number;
  filterSubject: string | undefined;
  maxInFlight: number;
  ackWaitMs: number;
  reReadUnackedWithinMs: number;
}

/** Validates consume options and applies defaults. @throws InvalidConfigError, InvalidSubjectError */
export function resolveConsumeOptions(component: string, options: ConsumeOptions): ResolvedConsumeOptions {
  if (!NAME_PATTERN.test(options.stream)) throw new InvalidConfigError(component, 'stream', `is not a valid stream name: '${options.stream}'`);
  if (options.durableName !== undefined && !NAME_PATTERN.test(options.durableName)) {
    throw new InvalidConfigError(component, 'durableName', `is not a valid consumer name: '${options.durableName}'`);
  }
  if (options.filterSubject !== undefined) validateSubject(options.filterSubject, { wildcards: true });
  positiveInteger(component, 'startSeq', options.startSeq);
  positiveInteger(component, 'maxInFlight', options.maxInFlight);
  positiveInteger(component, 'ackWaitMs', options.ackWaitMs);
  nonNegative(component, 'reReadUnackedWithinMs', options.reReadUnackedWithinMs);
  return {
    stream: options.stream,
    durableName: options.durableName,
    startSeq: options.startSeq ?? 1,
    filterSubject: options.filterSubject,
    maxInFlight: options.maxInFlight ?? TRANSPORT_DEFAULTS.maxInFlight,
    ackWaitMs: options.ackWaitMs ?? TRANSPORT_DEFAULTS.ackWaitMs,
    reReadUnackedWithinMs: options.reReadUnackedWithinMs ?? 0,
  };
}

/** @throws InvalidConfigError */
export function validateSubscribeOptions(component: string, options: SubscribeOptions | undefined): void {
  const queue = options?.queue;
  if (queue !== undefined && (queue.length === 0 || /\s/.test(queue))) {
    throw new InvalidConfigError(component, 'queue', `must be non-empty without whitespace, got '${queue}'`);
  }
}

/** @throws InvalidConfigError */
export function validateRequestOptions(component: string, options: RequestOptions): void {
  if (!(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0)) {
    throw new InvalidConfigError(component, 'timeoutMs', `must be a positive number of ms, got ${String(options.timeoutMs)}`);
  }
}

function nonNegative(component: string, field: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
    throw new InvalidConfigError(component, field, `must be a number >= 0, got ${String(value)}`);
  }
}

function positiveInteger(component: string, field: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
    throw new InvalidConfigError(component, field, `must be an integer >= 1, got ${String(value)}`);
  }
}

/** Validates ordered-read options the same way for both transports. @throws InvalidConfigError, InvalidSubjectError */
export function validateOrderedReadOptions(component: string, options: OrderedReadOptions): void {
  if (!NAME_PATTERN.test(options.stream)) throw new InvalidConfigError(component, 'stream', `is not a valid stream name: '${options.stream}'`);
  if (options.filterSubject !== undefined) validateSubject(options.filterSubject, { wildcards: true });
  if (options.name !== undefined && !NAME_PATTERN.test(options.name))
    throw new InvalidConfigError(component, 'name', `is not a valid consumer name prefix: '${options.name}'`);
  if (options.startSeq === undefined) throw new InvalidConfigError(component, 'startSeq', 'is required');
  positiveInteger(component, 'startSeq', options.startSeq);
  if (options.maxBuffered === undefined) throw new InvalidConfigError(component, 'maxBuffered', 'is required');
  positiveInteger(component, 'maxBuffered', options.maxBuffered);
  if (typeof options.onAvailable !== 'function') throw new InvalidConfigError(component, 'onAvailable', 'must be a function');
}
