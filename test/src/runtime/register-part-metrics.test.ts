import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { actor } from '../../../src/actors/actor.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import { runTopology } from '../../../src/runtime/run-topology.js';
import { startMetricsServer } from '../../../src/runtime/start-metrics-server.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import { useNatsServer } from '../../helpers/nats-server.js';
import { prometheusSample as sample } from '../../helpers/prometheus-sample.js';
import { useTempDir } from '../../helpers/temp-dir.js';
import { until } from '../../helpers/until.js';

const server = useNatsServer();
const tempDir = useTempDir('part-metrics');

type Deposit = { account: string; cents: number };
// A negative deposit makes the handler throw: the engine dead-letters that input and goes on.
const balances = actor<number, Deposit>({
  name: 'balances',
  key: (m) => m.data.account,
  initial: () => 0,
  handle: (balance, msg, ctx) => {
    if (msg.kind === 'timer') return balance;
    if (msg.data.cents < 0) throw new Error(`negative deposit ${msg.data.cents}`);
    ctx.emit('metrics.balance.changed', { account: ctx.key, balance: balance + msg.data.cents });
    return balance + msg.data.cents;
  },
});

describe('registerPartMetrics: every part in GET /metrics', () => {
  it("an actor's inputs, outputs, dead letters, outbox, lag and state are series of their own; the dead-letter total counts the engine's", async () => {
    const stateDir = tempDir();
    const transport = await NatsTransport.connect({ servers: server().url });
    await transport.ensureStream({ name: 'METRICS_IN', subjects: ['metrics.deposits'] });
    for (let i = 0; i < 12; i++)
      await transport.publishDurable('metrics.deposits', msgpackCodec.encode({ account: `acc-${i % 3}`, cents: i === 5 ? -1 : 100 }));
    const logger = pino({ level: 'silent' });
    const metrics = await startMetricsServer({ topologyName: 'part-metrics', port: 0, logger });
    const topology = defineTopology('part-metrics', (t) => {
      t.actor(balances, undefined, {
        stream: 'METRICS_IN',
        subjects: ['metrics.deposits'],
        stateDir,
        reportEveryMs: 0,
        emits: { stream: 'METRICS_OUT', subjects: ['metrics.balance.>'], readBack: false },
      });
    });
    const run = await runTopology(topology, { transport, logger, report: () => undefined, closeTransport: false, service: false });
    try {
      metrics.attach(run.stats);
      const part = { part: 'actor balances', kind: 'actor' };
      let text = '';
      await until(async () => {
        text = await (await fetch(metrics.url)).text();
        return sample(text, 'sluice_part_in_total', part) === 12 && sample(text, 'sluice_part_outbox', part) === 0;
      });
      // An engine's out is every output it committed: 11 balance changes and the dead letter.
      expect(sample(text, 'sluice_part_out_total', part)).toBe(12);
      expect(sample(text, 'sluice_part_dead_letters_total', part)).toBe(1);
      expect(sample(text, 'sluice_dead_letters_total', {})).toBe(1);
      expect(sample(text, 'sluice_part_lag_messages', part)).toBe(0);
      expect(sample(text, 'sluice_part_actors', part)).toBe(3);
      expect(sample(text, 'sluice_part_state', { ...part, state: 'running' })).toBe(1);
      expect(sample(text, 'sluice_part_state', { ...part, state: 'failed' })).toBe(0);
      expect(sample(text, 'sluice_part_unsettled', part)).toBe(0);

      // Lag is the broker's count of what the engine has not committed yet: inputs published
      // while the engine is stopped show as lag at the next scrape.
      await run.stop();
      for (let i = 0; i < 4; i++) await transport.publishDurable('metrics.deposits', msgpackCodec.encode({ account: 'acc-9', cents: 1 }));
      text = await (await fetch(metrics.url)).text();
      expect(sample(text, 'sluice_part_lag_messages', part)).toBe(4);
    } finally {
      await run.stop();
      await metrics.close();
      await transport.close();
    }
  });
});
