import { describe, expect, it } from 'vitest';
import { loadTopology } from '../../../src/cli/load-topology.js';
import { InvalidConfigError } from '../../../src/errors.js';

const FIXTURES = 'test/src/cli/fixtures';

describe('loadTopology', () => {
  it('loads the default export of a .ts topology module', async () => {
    expect((await loadTopology('topologies/order-routing.ts')).name).toBe('order-routing');
  });

  it('picks a named export with --export, and refuses to guess between several', async () => {
    expect((await loadTopology(`${FIXTURES}/two-topologies.ts`, 'second')).name).toBe('second');
    await expect(loadTopology(`${FIXTURES}/two-topologies.ts`)).rejects.toThrow(/several topologies \(first, second\): choose one with --export/);
    await expect(loadTopology(`${FIXTURES}/two-topologies.ts`, 'third')).rejects.toThrow(/'third' .* is not a topology/);
  });

  it('says what is wrong with a module without a topology, or a missing file', async () => {
    await expect(loadTopology(`${FIXTURES}/no-topology.ts`)).rejects.toThrow(/exports no topology/);
    await expect(loadTopology(`${FIXTURES}/missing.ts`)).rejects.toThrow(InvalidConfigError);
  });
});
