import { InvalidConfigError } from '../errors.js';
import { requireSupervision, type SupervisionMode } from '../settle/supervision.js';
import type { TopologyBuilder } from './types.js';

/** A named topology: what `sluice run` loads and `runTopology` runs. */
export interface Topology {
  /**
   * Stable name: the dead-letter subject suffix (`sluice.dlq.<name>`), the log binding, and later
   * the state directory and service name. Renaming it orphans those.
   */
  readonly name: string;
  readonly build: TopologyBuilder;
  /** What a pipeline error does in this topology, unless a pipeline sets its own. Default `'resume'`. */
  readonly supervision?: SupervisionMode | undefined;
}

/** Options of {@link defineTopology}. */
export interface DefineTopologyOptions {
  /** See {@link SupervisionMode}. Default `'resume'`: a message a stage throws on is dead-lettered, the pipeline carries on. */
  supervision?: SupervisionMode | undefined;
}

const brand = Symbol.for('sluice.topology');
const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Declares a topology. The builder wires pipelines from the context and returns them; it runs
 * once per run, so it must not start work itself (the runtime subscribes what it returns).
 *
 * @throws InvalidConfigError when `name` is not 1-64 letters, digits, `_` or `-` (it becomes a
 * subject token and a stream name).
 *
 * @example
 * ```ts
 * export const SUBJECTS = { in: 'greetings.in', out: 'greetings.out' } as const;
 * export default defineTopology('greeter', (t) =>
 *   t.source<string>(SUBJECTS.in).pipe(map((e) => `hello ${e.data}`), t.sink(SUBJECTS.out)));
 * ```
 */
export function defineTopology(name: string, build: TopologyBuilder, options: DefineTopologyOptions = {}): Topology {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new InvalidConfigError('defineTopology', 'name', `must be 1-64 letters, digits, '_' or '-', got ${JSON.stringify(name)}`);
  }
  if (typeof build !== 'function') {
    throw new InvalidConfigError('defineTopology', 'build', `must be a function, got ${typeof build}`);
  }
  const supervision = options.supervision === undefined ? undefined : requireSupervision('defineTopology', options.supervision);
  return Object.freeze({ name, build, ...(supervision !== undefined ? { supervision } : {}), [brand]: true });
}

/** Whether a module export is a topology made by {@link defineTopology}. */
export function isTopology(value: unknown): value is Topology {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}
