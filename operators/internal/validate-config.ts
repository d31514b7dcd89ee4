import { InvalidConfigError } from '../../src/errors.js';

/** Throws `InvalidConfigError` unless `value` is an integer >= `min`. */
export function requireInt(component: string, field: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new InvalidConfigError(component, field, `must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** Throws `InvalidConfigError` unless `value` is a finite number >= `min`. */
export function requireNumber(component: string, field: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new InvalidConfigError(component, field, `must be a finite number >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** Like {@link requireInt}, but `undefined` passes through. */
export function optionalInt(component: string, field: string, value: unknown, min: number): number | undefined {
  return value === undefined ? undefined : requireInt(component, field, value, min);
}

/** Like {@link requireNumber}, but `undefined` passes through. */
export function optionalNumber(component: string, field: string, value: unknown, min: number): number | undefined {
  return value === undefined ? undefined : requireNumber(component, field, value, min);
}

/** Throws `InvalidConfigError` unless `value` is a function. */
export function requireFunction<F>(component: string, field: string, value: F): F {
  if (typeof value !== 'function') {
    throw new InvalidConfigError(component, field, `must be a function, got ${typeof value}`);
  }
  return value;
}

/** Throws `InvalidConfigError` unless `value` is a non-empty string. */
export function requireName(component: string, field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidConfigError(component, field, `must be a non-empty string, got ${String(value)}`);
  }
  return value;
}
