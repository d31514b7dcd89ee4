import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { ensureError, NoRespondersError, RequestTimeoutError } from '../errors.js';
import { EXIT } from './exit-codes.js';
import { NatsTransport } from '../transport/nats/nats-transport.js';
import { permissionViolation } from '../transport/nats/permission-violation.js';
import { withNatsFlags } from './nats-flags.js';
import { natsOptionsFromFlags, type NatsFlags } from './nats-options-from-flags.js';

/** Where the operations commands look when neither `--nats` nor `NATS_URL` says: the `nats` CLI's default. */
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** Flags every operations command (`status`, `stats`, `state`) takes. */
export interface OpsFlags extends NatsFlags {
  json?: boolean | undefined;
  timeoutMs: number;
}

/** Adds the connection flags, `--json` and `--timeout-ms` to an operations command. */
export function withOpsOptions(command: Command): Command {
  return withNatsFlags(command, DEFAULT_NATS_URL)
    .option('--json', 'print one JSON document (for scripts) instead of a table')
    .option('--timeout-ms <n>', 'how long to wait for answers, ms', positiveInt, 2_000);
}

/**
 * Connects for one command (fails fast: no reconnects, the timeout as connect timeout), runs
 * `work`, and closes. Errors come back as they are, for the command to print on one line.
 */
export async function withNats<T>(flags: OpsFlags, work: (transport: NatsTransport) => Promise<T>): Promise<T> {
  let options;
  try {
    options = natsOptionsFromFlags(flags, process.env) ?? { servers: DEFAULT_NATS_URL };
  } catch (err) {
    throw new CliExitError(EXIT.usage, ensureError(err).message);
  }
  return connectedFor({ ...options, name: 'sluice-cli', maxReconnectAttempts: 0, connectTimeoutMs: Math.max(flags.timeoutMs, 1_000) }, work);
}

/** Connects (a failure is exit 3, unreachable), runs `work` and closes: one command's connection. */
export async function connectedFor<T>(options: Parameters<typeof NatsTransport.connect>[0], work: (transport: NatsTransport) => Promise<T>): Promise<T> {
  let transport: NatsTransport;
  try {
    transport = await NatsTransport.connect(options);
  } catch (err) {
    throw new CliExitError(EXIT.unreachable, ensureError(err).message);
  }
  try {
    return await work(transport);
  } finally {
    await transport.close().catch(() => undefined);
  }
}

/** A command failure that knows its exit code ({@link EXIT}); the message is one line for stderr. */
export class CliExitError extends Error {
  override readonly name = 'CliExitError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Prints `sluice <command>: <message>` on one line of stderr and returns its exit code: the
 * code a {@link CliExitError} carries; 3 (unreachable) for a request nobody answered; 4
 * (refused) for a publish the NATS user may not make; 1 for anything else.
 */
export function failed(command: string, err: unknown): number {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`sluice ${command}: ${message.replace(/[\r\n]+/g, ' ')}\n`);
  return exitCodeOf(err);
}

/** The exit code ({@link EXIT}) an error stands for. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CliExitError) return err.code;
  if (err instanceof NoRespondersError || err instanceof RequestTimeoutError) return EXIT.unreachable;
  if (permissionViolation(err)) return EXIT.refused;
  return EXIT.failed;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected an integer >= 1, got '${value}'`);
  return n;
}
