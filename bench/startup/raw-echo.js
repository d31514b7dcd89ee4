// The hand-written baseline of echo-topology.js: the NATS client alone, with no Sluice. It
// connects, subscribes to bench.startup.in, publishes each message's bytes to bench.startup.out,
// and writes the line the start-up bench waits for. What `sluice run echo-topology.js` adds to a
// start is the difference between the two (bench/startup.bench.ts).
import { connect } from '@nats-io/transport-node';

const url = process.argv[process.argv.indexOf('--nats') + 1];
const nc = await connect({ servers: url });
nc.subscribe('bench.startup.in', { callback: (err, msg) => err === null && nc.publish('bench.startup.out', msg.data, { headers: msg.headers }) });
await nc.flush();
process.stderr.write('sluice: running raw-echo\n');
process.once('SIGTERM', () => void nc.drain().then(() => process.exit(0)));
