import type { Command } from 'commander';
import { queryActorState, queryActorStatus } from '../actors/actor-client.js';
import { actorSubjects } from '../actors/actor-subjects.js';
import type { ActorStatus } from '../actors/serve-actor-queries.js';
import { ensureError, InvalidConfigError, NoRespondersError, RequestTimeoutError } from '../errors.js';
import { EXIT } from './exit-codes.js';
import { CliExitError, failed, withNats, withOpsOptions, type OpsFlags } from './ops-connection.js';

interface StateFlags extends OpsFlags {
  prefix?: string | undefined;
}

/** What `sluice state --json` prints. */
export interface ActorStateReport {
  readonly topology: string;
  readonly actor: string;
  readonly key: string;
  /** False: the key has no committed state; `state` is then the actor's `initial(key)`. */
  readonly found: boolean;
  /** Stream sequence of the last message applied to the key. */
  readonly lastSeq: number | null;
  /** Set when supervision stopped the key. */
  readonly stopped: ActorStatus['stopped'];
  readonly state: unknown;
}

/**
 * `sluice state <topology> <actor> <key>`: the committed state of one actor key, asked of the
 * running actor (core request/reply on `<prefix>.<topology>.<actor>.<key>`, answered from LMDB).
 * Exit codes from {@link EXIT}: 0 with the state (also for a key without state: `found: false`),
 * 3 when the actor does not answer (not running) or NATS cannot be reached, 4 when the NATS user
 * may not publish the query, 2 for bad usage (a name that is not a subject token).
 */
export function registerStateCommand(program: Command, done: (code: number) => void): void {
  withOpsOptions(
    program
      .command('state')
      .description("Show an actor's committed state for one key, asked of the running topology.")
      .argument('<topology>', 'topology name')
      .argument('<actor>', 'actor name')
      .argument('<key>', 'actor key (any string)')
      .option('--prefix <subject>', 'actor subject prefix (default sluice.actor)'),
  ).action(async (topology: string, actor: string, key: string, flags: StateFlags) => {
    done(await state(topology, actor, key, flags));
  });
}

async function state(topology: string, actor: string, key: string, flags: StateFlags): Promise<number> {
  const address = { topology, actor, prefix: flags.prefix };
  let subject: string;
  try {
    subject = actorSubjects(address).query(key);
  } catch (err) {
    return failed('state', new CliExitError(EXIT.usage, ensureError(err).message));
  }
  try {
    const report = await withNats(flags, async (t): Promise<ActorStateReport> => {
      const answer = await queryActorState(t, address, key, { timeoutMs: flags.timeoutMs });
      const status = await queryActorStatus(t, address, key, { timeoutMs: flags.timeoutMs });
      return { topology, actor, key, found: answer.found, lastSeq: status.lastSeq, stopped: status.stopped, state: answer.state };
    });
    process.stdout.write(`${flags.json === true ? JSON.stringify(report, jsonSafe) : formatState(report)}\n`);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof NoRespondersError || err instanceof RequestTimeoutError) {
      const why = err instanceof NoRespondersError ? 'no responders' : `no answer within ${flags.timeoutMs} ms`;
      return failed('state', new CliExitError(EXIT.unreachable, `actor '${actor}' of topology '${topology}' is not running (${why} on ${subject})`));
    }
    if (err instanceof InvalidConfigError) return failed('state', new CliExitError(EXIT.usage, err.message));
    return failed('state', err);
  }
}

function formatState(r: ActorStateReport): string {
  const where = `${r.topology} / ${r.actor} / ${r.key}`;
  const what = r.found ? `committed state (last applied seq ${r.lastSeq})` : 'no committed state: the initial state';
  const stopped = r.stopped !== null ? `\nSTOPPED by supervision at seq ${r.stopped.seq}: ${r.stopped.name}: ${r.stopped.message}` : '';
  return `${where}: ${what}${stopped}\n${JSON.stringify(r.state, jsonSafe, 2)}`;
}

/** States are MessagePack (or JSON) values: bigints and bytes need a JSON form. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return { base64: Buffer.from(value).toString('base64') };
  if (value instanceof Map) return Object.fromEntries(value);
  if (value instanceof Set) return [...value];
  return value;
}
