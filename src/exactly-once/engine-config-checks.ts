import { InvalidConfigError } from '../errors.js';

/** The checks both exactly-once engines (`startExactlyOnce`, `startDurableBatch`) run on their config. */
export interface EngineConfigChecks {
  /** @throws InvalidConfigError for `field` of `component`. */
  readonly fail: (field: string, detail: string) => never;
  /** `v`, or `dflt` when absent, as an integer in `min..max`. */
  readonly int: (field: string, v: number | undefined, dflt: number, min: number, max: number) => number;
  /** The engine name: 1-64 letters, digits, `-` or `_` (a consumer-name and namespace token). */
  readonly name: (value: unknown) => void;
}

/** The config checks of an engine, naming `component` in their errors. */
export function engineConfigChecks(component: string): EngineConfigChecks {
  const fail = (field: string, detail: string): never => {
    throw new InvalidConfigError(component, field, detail);
  };
  return {
    fail,
    int: (field, v, dflt, min, max) => {
      const x = v ?? dflt;
      if (!Number.isInteger(x) || x < min || x > max) fail(field, `must be an integer in ${min}..${max}, got ${x}`);
      return x;
    },
    name: (value) => {
      if (typeof value !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(value))
        fail('name', `must be 1-64 letters, digits, '-' or '_', got ${JSON.stringify(value)}`);
    },
  };
}
