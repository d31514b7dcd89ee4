import type { Command } from 'commander';
import type { PartStats } from '../observe/part-stats.js';
import { findTopologies, type FoundTopology } from './find-topologies.js';
import { formatDuration, formatTable } from './format-table.js';
import { EXIT } from './exit-codes.js';
import { failed, withNats, withOpsOptions, type OpsFlags } from './ops-connection.js';

/**
 * `sluice stats <topology>`: every part of a running topology in one table (or its merged
 * `TopologyStats` with `--json`). Exit codes from {@link EXIT}: 0 when it answered, 3 when it is
 * not running or NATS cannot be reached, 2 for bad usage.
 */
export function registerStatsCommand(program: Command, done: (code: number) => void): void {
  withOpsOptions(
    program
      .command('stats')
      .description("Show a running topology's parts: events in/out, rates, lag, unsettled, dead letters, batch sizes, actors, outbox.")
      .argument('<topology>', 'topology name (as in `sluice status`)'),
  ).action(async (topology: string, flags: OpsFlags) => {
    done(await stats(topology, flags));
  });
}

async function stats(topology: string, flags: OpsFlags): Promise<number> {
  try {
    const [found] = await withNats(flags, (t) => findTopologies(t, { topology, maxWaitMs: flags.timeoutMs }));
    if (found === undefined) {
      process.stderr.write(
        `sluice stats: topology '${topology}' is not running (no instance answered on $SRV.STATS.sluice-${topology} within ${flags.timeoutMs} ms)\n`,
      );
      return EXIT.unreachable;
    }
    process.stdout.write(`${flags.json === true ? JSON.stringify(found) : formatStats(found)}\n`);
    return EXIT.ok;
  } catch (err) {
    return failed('stats', err);
  }
}

// Pipelines first, then data in the order it flows.
const KIND_ORDER: readonly PartStats['kind'][] = ['pipeline', 'source', 'stream', 'operator', 'actor', 'durable-batch', 'durable-window', 'sink'];

function formatStats(t: FoundTopology): string {
  const n = t.instances.length;
  const head = `${t.topology}: ${n} instance${n === 1 ? '' : 's'}, up ${formatDuration(t.uptimeMs)}, health ${t.health}${t.problems.length > 0 ? ` (${t.problems.join('; ')})` : ''}`;
  const parts = [...t.parts].sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
  const table = formatTable(
    ['PART', 'STATE', 'IN', 'OUT', 'IN/S', 'OUT/S', 'LAG', 'UNSETTLED', 'DLQ', 'BATCHES', 'LAST', 'MAX', 'ACTORS', 'OUTBOX'],
    parts.map((p) => [
      p.name,
      p.state,
      p.in,
      p.out,
      p.inPerSec,
      p.outPerSec,
      p.lag,
      p.unsettled,
      p.deadLetters,
      p.batches,
      p.lastBatchSize,
      p.maxBatchSize,
      p.actors,
      p.outbox,
    ]),
  );
  const totals = `totals: in ${t.totals.in} (${t.totals.inPerSec}/s), out ${t.totals.out} (${t.totals.outPerSec}/s), lag ${t.totals.lag}, unsettled ${t.totals.unsettled}, dead letters ${t.totals.deadLetters}`;
  return `${head}\n${table}\n${totals}`;
}
