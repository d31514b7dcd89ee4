import { pino } from 'pino';
import { defineTopology } from '../../src/runtime/define-topology.js';
import { runTopology } from '../../src/runtime/run-topology.js';
import type { TopologyBuilder } from '../../src/runtime/types.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import { type ModeContext, type RunningMode, natsCounters } from './mode.js';

/**
 * Runs a bench topology the way `sluice run` does: `NatsTransport` + `runTopology`, so the
 * transport's Observable source, decoding, dead letters and drain are all in the measurement.
 * `lmdbCommits` reports the commits of a state store the topology opened, when it has one.
 */
export async function runSluiceTopology(ctx: ModeContext, name: string, build: TopologyBuilder, lmdbCommits: () => number = () => 0): Promise<RunningMode> {
  const transport = await NatsTransport.connect({ servers: ctx.url, name: `bench-${name}` });
  const run = await runTopology(defineTopology(name, build), {
    transport,
    logger: pino({ level: 'warn' }, process.stderr),
    report: () => undefined,
  });
  return {
    counters: natsCounters(transport.nc, lmdbCommits),
    stop: async () => {
      const exit = await run.stop();
      if (exit.reason === 'failed') throw exit.error ?? new Error(`topology ${name} failed`);
    },
  };
}
