// What the demo topology's start cannot go below with its libraries, written by hand with no
// Sluice: raw-echo.js plus the third-party work the demo does before it handles a message. It
// loads zod (by `import`, as the demo's schemas do) and validates each message against a schema,
// computes the next 02:00 Europe/London with croner (the demo's nightly batch), and opens an
// LMDB environment with one committed write (its state stores). Node + the NATS client + these
// three is the floor under `sluice run topologies/hybrid-orders.ts` (bench/startup.bench.ts).
import { createRequire } from 'node:module';
import { connect } from '@nats-io/transport-node';
import { z } from 'zod';

const require = createRequire(import.meta.url);
const url = process.argv[process.argv.indexOf('--nats') + 1];
const Probe = z.object({ id: z.string().optional() }).passthrough();
const nightly = new (require('croner').Cron)('0 2 * * *', { timezone: 'Europe/London' });
if (nightly.nextRun() === null) throw new Error('croner: no next run');
const env = require('lmdb').open({ path: '.floor-state' });
await env.put('started', Date.now());
const nc = await connect({ servers: url });
nc.subscribe('bench.startup.in', {
  callback: (err, msg) => {
    if (err !== null) return;
    Probe.safeParse(msg.json());
    nc.publish('bench.startup.out', msg.data, { headers: msg.headers });
  },
});
await nc.flush();
process.stderr.write('sluice: running raw-demo-floor\n');
process.once(
  'SIGTERM',
  () =>
    void nc
      .drain()
      .then(() => env.close())
      .then(() => process.exit(0)),
);
