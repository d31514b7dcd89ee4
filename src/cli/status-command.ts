import type { Command } from 'commander';
import { findTopologies, type FoundTopology } from './find-topologies.js';
import { formatDuration, formatTable } from './format-table.js';
import { EXIT } from './exit-codes.js';
import { failed, withNats, withOpsOptions, type OpsFlags } from './ops-connection.js';

/** One topology in `sluice status --json`. */
export interface TopologyStatusLine {
  readonly topology: string;
  readonly instances: number;
  readonly parts: number;
  readonly inPerSec: number;
  readonly outPerSec: number;
  readonly lag: number;
  readonly unsettled: number;
  readonly deadLetters: number;
  readonly health: FoundTopology['health'];
  readonly problems: readonly string[];
  readonly uptimeMs: number;
}

/**
 * `sluice status`: every Sluice topology running on the NATS system, one line each, found
 * through `$SRV.STATS`. Exit codes from {@link EXIT}: 0 when at least one answered, 3 when none
 * did or NATS cannot be reached, 2 for bad usage.
 */
export function registerStatusCommand(program: Command, done: (code: number) => void): void {
  withOpsOptions(
    program.command('status').description('List every running topology on the NATS system: parts, rates, lag, unsettled, dead letters, health.'),
  ).action(async (flags: OpsFlags) => {
    done(await status(flags));
  });
}

async function status(flags: OpsFlags): Promise<number> {
  try {
    const found = await withNats(flags, (t) => findTopologies(t, { maxWaitMs: flags.timeoutMs }));
    const lines = found.map(statusLine);
    if (flags.json === true) process.stdout.write(`${JSON.stringify(lines)}\n`);
    if (lines.length === 0) {
      process.stderr.write(`sluice status: no Sluice topology is running (none answered on $SRV.STATS within ${flags.timeoutMs} ms)\n`);
      return EXIT.unreachable;
    }
    if (flags.json !== true) process.stdout.write(`${formatStatus(lines)}\n`);
    return EXIT.ok;
  } catch (err) {
    return failed('status', err);
  }
}

export function statusLine(t: FoundTopology): TopologyStatusLine {
  return {
    topology: t.topology,
    instances: t.instances.length,
    parts: t.parts.length,
    inPerSec: t.totals.inPerSec,
    outPerSec: t.totals.outPerSec,
    lag: t.totals.lag,
    unsettled: t.totals.unsettled,
    deadLetters: t.totals.deadLetters,
    health: t.health,
    problems: t.problems,
    uptimeMs: t.uptimeMs,
  };
}

function formatStatus(lines: readonly TopologyStatusLine[]): string {
  return formatTable(
    ['TOPOLOGY', 'INSTANCES', 'PARTS', 'IN/S', 'OUT/S', 'LAG', 'UNSETTLED', 'DEAD LETTERS', 'UP', 'HEALTH'],
    lines.map((l) => [
      l.topology,
      l.instances,
      l.parts,
      l.inPerSec,
      l.outPerSec,
      l.lag,
      l.unsettled,
      l.deadLetters,
      formatDuration(l.uptimeMs),
      l.problems.length > 0 ? `${l.health}: ${l.problems.join('; ')}` : l.health,
    ]),
  );
}
