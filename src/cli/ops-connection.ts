import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { NatsTransport } from '../transport/nats-transport.js';
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
  const options = natsOptionsFromFlags(flags, process.env) ?? { servers: DEFAULT_NATS_URL };
  const transport = await NatsTransport.connect({ ...options, name: 'sluice-cli', maxReconnectAttempts: 0, connectTimeoutMs: Math.max(flags.timeoutMs, 1_000) });
  try {
    return await work(transport);
  } finally {
    await transport.close().catch(() => undefined);
  }
}

/** Prints `sluice <command>: <message>` on one line of stderr and returns exit code 1. */
export function failed(command: string, err: unknown): number {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`sluice ${command}: ${message.replace(/[\r\n]+/g, ' ')}\n`);
  return 1;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected an integer >= 1, got '${value}'`);
  return n;
}
