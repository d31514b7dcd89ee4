import { execFileSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer } from '../src/runtime/nats-server-process.js';
import { measureStart } from './startup/measure-start.js';
import { samplePayload } from './startup/sample-payload.js';
const bin = '/work/main/dist/src/cli/bin.js';
const topos = process.argv.slice(2);
for (const topology of topos) {
  const contract = JSON.parse(execFileSync(process.execPath, [bin, 'describe', '/work/main/topologies/hybrid-orders.ts', '--json'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } }));
  const input = contract.subjects.find((s: any) => s.direction === 'in');
  const watch = contract.subjects.filter((s: any) => s.direction === 'out' || s.direction === 'dead-letter').map((s: any) => s.subject);
  const probe = { subject: input.subject.replace(/>$/, 'probe').replaceAll('*', 'probe'), payload: samplePayload(input.payload), watch };
  for (let i = 0; i < 5; i++) {
    const cwd = await mkdtemp(join(tmpdir(), 'exp-'));
    const nats = await startNatsServer();
    try { console.log(topology, JSON.stringify(await measureStart({ bin, topology, cwd, natsUrl: nats.url, probe, idleMs: 2000, timeoutMs: 30000 }))); }
    finally { await nats.dispose(); }
  }
}
