import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ensureError } from '../errors.js';
import { packageVersion } from '../package-version.js';
import { LOG_FORMATS, LOG_LEVELS } from './create-cli-logger.js';
import { EXIT } from './exit-codes.js';
import { withNatsFlags } from './nats-flags.js';
import type { RunFlags } from './run-command.js';

type Done = (code: number) => void;

/**
 * The commands after `run` and `describe`, in help order, each loaded with its module only when
 * it is the command given (or when all are needed: no command, `help`, an unknown one). A
 * `sluice run` start then does not load the dead-letter, ingest and operations commands and
 * what they import (issue 14: start-up time).
 */
const LAZY_COMMANDS: Readonly<Record<string, (program: Command, done: Done) => Promise<unknown>>> = {
  dlq: async (program, done) => program.addCommand((await import('./dlq-command.js')).dlqCommand(done)),
  // Operations: what runs on a NATS system (docs/operations.md).
  status: async (program, done) => (await import('./status-command.js')).registerStatusCommand(program, done),
  stats: async (program, done) => (await import('./stats-command.js')).registerStatsCommand(program, done),
  state: async (program, done) => (await import('./state-command.js')).registerStateCommand(program, done),
  ingest: async (program, done) => program.addCommand((await import('./ingest-command.js')).ingestCommand(done)),
};

/**
 * The `sluice` command line. Returns the exit code, one table for every command ({@link EXIT}):
 * 0 after a clean stop (signal, duration, or a topology that finished), 1 when the topology
 * failed or could not start, 2 for usage errors, 3 and 4 from the commands that ask a running
 * topology (not answering, refused).
 * `run` writes one log on stderr (its banner and the topology's summaries included): readable
 * lines on a terminal, JSON lines otherwise (`--log-format`); stdout carries results only.
 */
export async function main(argv: readonly string[]): Promise<number> {
  let code: number | undefined;
  const program = new Command('sluice')
    .description('Stream processing over NATS: run a topology file.')
    .exitOverride()
    .showHelpAfterError()
    .version(packageVersion(), '-V, --version', 'print the version');

  withNatsFlags(
    program
      .command('run')
      .description(
        'Load a topology module and run it until SIGINT/SIGTERM (or --duration-ms), draining in-flight work. ' +
          'Further modules (a demo driver, a feed) run beside it on the same connection and are stopped first.',
      )
      .argument('<files...>', 'topology modules (.ts or .js) exporting a defineTopology() result; the first is the topology, the others its drivers'),
    'a private nats-server from PATH, else in-process',
  )
    .option('--export <name>', 'which export of the module is the topology (default: the default export)')
    .option('--duration-ms <n>', 'stop (and drain) after this many ms', nonNegative)
    .option('--drain-timeout-ms <n>', 'how long a stop waits for in-flight work, ms (default 5000)', nonNegative)
    .option('--allow-control', 'act on control that changes things (dead-letter replay, actor key resets); off by default')
    .addOption(new Option('--log-level <level>', 'log level (stderr)').choices(LOG_LEVELS).default(process.env.SLUICE_LOG_LEVEL ?? 'info'))
    .addOption(new Option('--log-format <format>', 'log format (default: pretty on a terminal, else json)').choices(LOG_FORMATS))
    .option('--metrics-port <n>', 'serve Prometheus metrics at http://<metrics-host>:<n>/metrics (0: a free port)', nonNegative)
    .option('--metrics-host <address>', 'address of the metrics endpoint (default 127.0.0.1)')
    .option(
      '--summary-every-ms <n>',
      'log one line per part (in, out, batches, open, outbox, dead letters) and one of totals (out per subject) every n ms, and once at the end; 0: none but the last (default 5000 on a terminal, else 0)',
      nonNegative,
    )
    .action(async (files: string[], flags: RunFlags) => {
      // The runtime loads here, not with the command line: other commands do not need it.
      const { runCommand } = await import('./run-command.js');
      code = await runCommand(files, flags);
    });

  program
    .command('describe')
    .description("List a topology's inputs, outputs and dead-letter subject without running it.")
    .argument('<file>', 'topology module')
    .option('--export <name>', 'which export of the module is the topology')
    .option('--json', 'print the wire contract as JSON: every subject with direction, stream, payload JSON Schema, headers and guarantee (docs/describe.md)')
    .option('--asyncapi', 'print the wire contract as an AsyncAPI 3.0 document (JSON)')
    .action(async (file: string, flags: { export?: string; json?: boolean; asyncapi?: boolean }) => {
      try {
        const [{ loadTopology }, { contractToAsyncApi }, { describeContract }, { describeTopology, formatTopologyDescription }] = await Promise.all([
          import('./load-topology.js'),
          import('../runtime/contract-to-async-api.js'),
          import('../runtime/topology-contract.js'),
          import('../runtime/describe-topology.js'),
        ]);
        const topology = await loadTopology(file, flags.export);
        const out =
          flags.asyncapi === true
            ? JSON.stringify(contractToAsyncApi(describeContract(topology)), null, 2)
            : flags.json === true
              ? JSON.stringify(describeContract(topology), null, 2)
              : formatTopologyDescription(describeTopology(topology));
        process.stdout.write(`${out}\n`);
        code = EXIT.ok;
      } catch (err) {
        process.stderr.write(`sluice: ${ensureError(err).message}\n`);
        code = EXIT.failed;
      }
    });

  // A known command loads alone; without one (help, `--version`, a typo) all load, so help lists them all.
  const given = commandOf(argv);
  const only = given !== undefined && (Object.hasOwn(LAZY_COMMANDS, given) || given === 'run' || given === 'describe') ? given : undefined;
  for (const [name, register] of Object.entries(LAZY_COMMANDS)) if (only === undefined || only === name) await register(program, (c) => (code = c));

  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw err;
  }
  return code ?? EXIT.ok;
}

/** The command named on the line (`node sluice <command> ...`): its first word that is not an option; undefined without one. */
function commandOf(argv: readonly string[]): string | undefined {
  return argv.slice(2).find((a) => !a.startsWith('-'));
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a number >= 0, got '${value}'`);
  return n;
}
