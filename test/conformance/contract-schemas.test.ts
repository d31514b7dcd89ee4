import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Topology } from '../../src/runtime/define-topology.js';
import { describeContract, type ContractSubject } from '../../src/runtime/topology-contract.js';

/**
 * Every shipped topology (topologies/*.ts, not the *-schemas.ts modules) publishes a payload
 * schema for each subject another service uses: what it reads, what it writes, the requests it
 * answers and their replies. Sluice's own subjects (`sluice.*`: hand-overs to actors and durable
 * batches, the service endpoints; `$SRV.*`) are not the topology's payloads and are left out.
 * No broker: the contract is what `sluice describe --json` prints.
 */
const dir = resolve(import.meta.dirname, '../../topologies');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('-schemas.ts'))
  .sort();

const sluiceOwn = (subject: string): boolean => subject.startsWith('sluice.') || subject.startsWith('$SRV.');

/** The subjects other services publish or subscribe to, with the replies to the requests among them. */
function externalSubjects(subjects: readonly ContractSubject[]): ContractSubject[] {
  const external = subjects.filter((s) => (s.direction === 'in' || s.direction === 'out' || s.direction === 'request') && !sluiceOwn(s.subject));
  const answering = new Set(external.filter((s) => s.direction === 'request').map((s) => s.part));
  return [...external, ...subjects.filter((s) => s.direction === 'reply' && answering.has(s.part))];
}

describe('every shipped topology: a payload schema for every external subject', () => {
  it('finds the topologies', () => {
    expect(files).toEqual(expect.arrayContaining(['hybrid-orders.ts', 'inventory.ts', 'order-routing.ts', 'payroll.ts']));
  });

  it.each(files)('%s', async (file) => {
    const topology = ((await import(join(dir, file))) as { default: Topology }).default;
    const external = externalSubjects(describeContract(topology).subjects);
    expect(external.some((s) => s.direction === 'in' || s.direction === 'request')).toBe(true);
    expect(external.some((s) => s.direction === 'out' || s.direction === 'reply')).toBe(true);
    const missing = external
      .filter((s) => s.payload === undefined || Object.keys(s.payload).every((k) => k === '$schema'))
      .map((s) => `${s.direction} ${s.subject} (${s.part})`);
    expect(missing, `${file}: subjects without a payload schema`).toEqual([]);
  });
});
