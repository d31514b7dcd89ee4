import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTopology, type RunningTopology } from '../../../src/runtime/run-topology.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import lowStock from '../../../topologies/low-stock.js';
import type { TopologyStatusLine } from '../../../src/cli/status-command.js';
import { startTestNatsServer, useNatsServer } from '../../helpers/nats-server.js';
import { sluice } from './run-cli.js';
import { useRunningOrdersLedger } from './running-orders-ledger.js';

describe('sluice status (child process, real nats-server)', () => {
  const server = useNatsServer();
  useRunningOrdersLedger(server);
  // Two instances of a second topology: status shows one line for both.
  const lowStockRuns: RunningTopology[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      lowStockRuns.push(await runTopology(lowStock, { transport: await NatsTransport.connect({ servers: server().url }), logger: pino({ level: 'silent' }) }));
    }
  });
  afterAll(async () => {
    for (const r of lowStockRuns) await r.stop();
  });

  it('prints one line per running topology, instances merged; --json gives the same lines to scripts', { timeout: 60_000 }, async () => {
    const table = await sluice(['status', '--nats', server().url]).result;
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TOPOLOGY\s+INSTANCES\s+PARTS\s+IN\/S\s+OUT\/S\s+LAG\s+UNSETTLED\s+DEAD LETTERS\s+UP\s+HEALTH$/);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^low-stock\s+2\s+3\s+0\s+0\s+0\s+0\s+0\s+\d+s\s+ok$/);
    expect(lines[2]).toMatch(/^orders-ledger\s+1\s+14\s+[\d.]+\s+[\d.]+\s+0\s+0\s+1\s+\d+s\s+degraded: 1 dead letter in the last \d+ s$/);

    const json = await sluice(['status', '--nats', server().url, '--json']).result;
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout) as TopologyStatusLine[];
    expect(parsed).toEqual([
      expect.objectContaining({ topology: 'low-stock', instances: 2, parts: 3, lag: 0, deadLetters: 0, health: 'ok', problems: [] }),
      expect.objectContaining({ topology: 'orders-ledger', instances: 1, parts: 14, lag: 0, unsettled: 0, deadLetters: 1, health: 'degraded' }),
    ]);
  });

  it('exits 3 when nothing runs (an empty JSON list for scripts) or NATS cannot be reached, 2 on bad usage; one-line errors', { timeout: 60_000 }, async () => {
    const empty = await startTestNatsServer();
    try {
      const none = await sluice(['status', '--nats', empty.url, '--json', '--timeout-ms', '500']).result;
      expect(none.code).toBe(3);
      expect(JSON.parse(none.stdout)).toEqual([]);
      expect(none.stderr).toBe('sluice status: no Sluice topology is running (none answered on $SRV.STATS within 500 ms)\n');
    } finally {
      await empty.dispose();
    }
    const unreachable = await sluice(['status', '--nats', 'nats://127.0.0.1:1']).result;
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toMatch(/^sluice status: .*connection refused: nothing listens on 127\.0\.0\.1:1\n$/);
    const usage = await sluice(['status', '--timeout-ms', '0']).result;
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--timeout-ms.*expected an integer >= 1, got '0'/);
  });
});
