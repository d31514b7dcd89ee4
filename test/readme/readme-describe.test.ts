import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeTopology, formatTopologyDescription } from '../../src/runtime/describe-topology.js';
import hybridOrders from '../../topologies/hybrid-orders.js';

const COMMAND = '$ node bin/sluice.js describe topologies/hybrid-orders.ts';

/** The lines of the README's `sluice describe` example (without the command), as written. */
function readmeDescribeBlock(): string[] {
  const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
  const block = new RegExp('```text\\n' + COMMAND.replace(/[$.]/g, '\\$&') + '\\n([\\s\\S]*?)```').exec(readme)?.[1];
  if (block === undefined) throw new Error(`README has no text block starting with '${COMMAND}'`);
  return block.replace(/\n$/, '').split('\n');
}

// What `sluice describe` prints (src/cli/main.ts), built without a broker.
const printed = formatTopologyDescription(describeTopology(hybridOrders)).split('\n');

describe("README: 'sluice describe topologies/hybrid-orders.ts'", () => {
  it('every line it shows is a line the command prints, in the same order ("..." stands for lines left out)', () => {
    const shown = readmeDescribeBlock();
    let from = 0;
    for (const line of shown.filter((l) => l.trim() !== '...')) {
      const at = printed.indexOf(line, from);
      expect(at, `README line not printed (after line ${from}):\n${line}\n\nprinted:\n${printed.join('\n')}`).toBeGreaterThanOrEqual(0);
      from = at + 1;
    }
  });

  it('shows every path the command prints, none left out', () => {
    const shown = readmeDescribeBlock();
    const pathsOf = (lines: readonly string[]) => lines.slice(lines.indexOf('  paths'));
    expect(pathsOf(printed).length).toBeGreaterThan(1);
    expect(pathsOf(shown)).toEqual(pathsOf(printed).filter((l) => l !== ''));
  });
});
