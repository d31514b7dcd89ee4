import { join } from 'node:path';
import { pino } from 'pino';
import { runTopology } from '../../src/runtime/run-topology.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import { fraudCheck } from '../../topologies/fraud-check.js';
import { type ModeFactory, natsCounters } from './mode.js';

/**
 * topologies/fraud-check.ts as `sluice run` runs it (default config: 100 ms deadline, default
 * rules): `t.respond` on `fraud.check` deciding from the activity actor's committed LMDB state,
 * read in-process with `t.actorState`; the actor fed from the FRAUD_ACTIVITY stream. The
 * request subject is the topology's own (`ctx.inSubject` is not used).
 */
export const start: ModeFactory = async (ctx) => {
  const transport = await NatsTransport.connect({ servers: ctx.url, name: 'bench-fraud-check' });
  const run = await runTopology(fraudCheck(), {
    transport,
    stateDir: join(ctx.workDir, 'fraud-check-state'),
    logger: pino({ level: 'warn' }, process.stderr),
    report: () => undefined,
    service: false,
  });
  return {
    counters: natsCounters(transport.nc),
    stop: async () => {
      const exit = await run.stop();
      if (exit.reason === 'failed') throw exit.error ?? new Error('fraud-check failed');
    },
  };
};
