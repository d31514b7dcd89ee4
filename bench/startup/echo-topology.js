// The smallest useful topology, in plain JavaScript as a user without TypeScript writes it: core
// NATS in, the same payload out. bench/startup.bench.ts measures how fast `sluice run` serves it.
import { defineTopology } from 'sluice';

export default defineTopology('startup-echo', (t) => t.source('bench.startup.in').pipe(t.sink('bench.startup.out')));
