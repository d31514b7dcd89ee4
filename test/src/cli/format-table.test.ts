import { describe, expect, it } from 'vitest';
import { formatDuration, formatTable } from '../../../src/cli/format-table.js';

describe('formatTable', () => {
  it('pads columns, right-aligns numbers with thousands separators, shows null as -', () => {
    expect(
      formatTable(
        ['PART', 'IN', 'LAG'],
        [
          ['stream A', 12_345, null],
          ['actor stock', 7, 0.25],
        ],
      ),
    ).toBe(['PART             IN  LAG', 'stream A     12,345    -', 'actor stock       7  0.3'].join('\n'));
  });

  it('formats uptimes', () => {
    expect([5_000, 65_000, 3_725_000, 200_000_000].map(formatDuration)).toEqual(['5s', '1m 05s', '1h 02m', '2d 07h']);
  });
});
