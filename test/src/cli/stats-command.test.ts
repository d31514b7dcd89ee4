import { describe, expect, it } from 'vitest';
import type { FoundTopology } from '../../../src/cli/find-topologies.js';
import { useNatsServer } from '../../helpers/nats-server.js';
import { sluice } from './run-cli.js';
import { ORDERS, useRunningOrdersLedger } from './running-orders-ledger.js';

describe('sluice stats <topology> (child process, real nats-server)', () => {
  const server = useNatsServer();
  useRunningOrdersLedger(server);

  it('prints every part of orders-ledger in one table, pipelines first; --json is the merged TopologyStats', { timeout: 60_000 }, async () => {
    const table = await sluice(['stats', 'orders-ledger', '--nats', server().url]).result;
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^orders-ledger: 1 instance, up \d+s, health degraded \(1 dead letter in the last \d+ s\)$/);
    expect(lines[1]).toMatch(/^PART\s+STATE\s+IN\s+OUT\s+IN\/S\s+OUT\/S\s+LAG\s+UNSETTLED\s+DLQ\s+BATCHES\s+LAST\s+MAX\s+ACTORS\s+OUTBOX$/);
    const row = (name: string) => lines.find((l) => l.startsWith(`${name} `));
    expect(lines.slice(2, 5).map((l) => l.split(/\s{2,}/)[0])).toEqual(['pipeline 1', 'pipeline 2', 'pipeline 3']);
    // name, state, in, out, rates, lag, unsettled, dead letters, batches, last, max, actors, outbox
    expect(row('stream SHOP_ORDERS')).toMatch(/^stream SHOP_ORDERS\s+running\s+31\s+30\s+[\d.]+\s+[\d.]+\s+0\s+0\s+1\s+-\s+-\s+-\s+-\s+-$/);
    expect(row('actor stock')).toMatch(/^actor stock\s+running\s+30\s+30\s+[\d.]+\s+[\d.]+\s+0\s+0\s+0\s+\d+\s+\d+\s+\d+\s+3\s+0$/);
    expect(row('durable-batch daily-ledger')).toMatch(/^durable-batch daily-ledger\s+running\s+30\s+0\s+[\d.]+\s+[\d.]+\s+0\s+-\s+0\s+0\s+-\s+-\s+-\s+0$/);
    expect(row('microBatch')).toMatch(/^microBatch\s+running\s+30\s+30\s/);
    expect(lines.at(-1)).toMatch(/^totals: in \d+ \([\d.]+\/s\), out \d+ \([\d.]+\/s\), lag 0, unsettled 0, dead letters 1$/);

    const json = await sluice(['stats', 'orders-ledger', '--nats', server().url, '--json']).result;
    expect(json.code, json.stderr).toBe(0);
    const stats = JSON.parse(json.stdout) as FoundTopology;
    expect(stats).toMatchObject({
      topology: 'orders-ledger',
      instances: [expect.any(String)],
      health: 'degraded',
      totals: { deadLetters: 1, lag: 0, unsettled: 0 },
    });
    expect(stats.parts.find((p) => p.name === 'actor stock')).toMatchObject({
      kind: 'actor',
      in: ORDERS.length,
      actors: 3,
      outbox: 0,
      detail: { handled: ORDERS.length },
    });
  });

  it('exits 3 with one line for a topology that is not running, 2 without a topology', { timeout: 60_000 }, async () => {
    const missing = await sluice(['stats', 'no-such-topology', '--nats', server().url, '--timeout-ms', '500']).result;
    expect(missing.code).toBe(3);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toBe(
      "sluice stats: topology 'no-such-topology' is not running (no instance answered on $SRV.STATS.sluice-no-such-topology within 500 ms)\n",
    );
    const usage = await sluice(['stats', '--nats', server().url]).result;
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/missing required argument 'topology'/);
  });
});
