import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import { runTopology } from '../../../src/runtime/run-topology.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import { startTestNatsServer } from '../../helpers/nats-server.js';
import { until } from '../../helpers/until.js';

interface Line {
  level: number;
  msg: string;
  server?: string;
  disconnectedAt?: string;
  reconnectedAt?: string;
  downMs?: number;
  coreSources?: string[];
}

describe('broker outages: logged, counted, and the window a core-subject source missed stated', () => {
  it('a nats-server restart gives one disconnect and one reconnect line, and stats.connection holds the gap', { timeout: 60_000 }, async () => {
    const server = await startTestNatsServer();
    const lines: Line[] = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Line) });
    const transport = await NatsTransport.connect({ servers: server.url });
    const topology = defineTopology('outage', (t) => t.source('outage.in').pipe(t.sink('outage.out')));
    const run = await runTopology(topology, { transport, logger, service: false, deadLetterStream: false });
    try {
      expect(run.stats.snapshot().connection).toEqual({ connected: true, disconnects: 0, reconnects: 0, disconnectedMs: 0 });
      await server.stop();
      await until(() => lines.some((l) => l.msg.startsWith('disconnected from the broker')), { what: 'the disconnect line' });
      expect(run.stats.snapshot().connection).toMatchObject({ connected: false, disconnects: 1, reconnects: 0 });
      await new Promise((r) => setTimeout(r, 500));
      await server.restart();
      await until(() => lines.some((l) => l.msg.startsWith('reconnected after')), { what: 'the reconnect line', timeoutMs: 30_000 });

      const down = lines.find((l) => l.msg.startsWith('disconnected from the broker'))!;
      expect(down.level).toBe(40);
      expect(down.msg).toBe(
        'disconnected from the broker: core-subject sources miss whatever is published until the reconnect (JetStream sources resume where they were)',
      );
      expect(down.coreSources).toEqual(['outage.in']);
      const up = lines.find((l) => l.msg.startsWith('reconnected after'))!;
      expect(up.level).toBe(40);
      expect(up.msg).toBe(
        `reconnected after ${up.downMs} ms: core-subject sources missed whatever was published from ${up.disconnectedAt} to ${up.reconnectedAt} (core NATS keeps nothing, so the count is unknown)`,
      );
      expect(up.disconnectedAt).toBe(down.disconnectedAt);
      expect(up.downMs).toBeGreaterThanOrEqual(500);
      expect(Date.parse(up.reconnectedAt!) - Date.parse(up.disconnectedAt!)).toBe(up.downMs);

      const connection = run.stats.snapshot().connection;
      expect(connection).toEqual({
        connected: true,
        disconnects: 1,
        reconnects: 1,
        disconnectedMs: up.downMs,
        lastGap: { disconnectedAt: up.disconnectedAt, reconnectedAt: up.reconnectedAt, durationMs: up.downMs },
      });
      // Back to work after the gap.
      await transport.flush();
    } finally {
      await run.stop();
      await server.dispose();
    }
  });
});
