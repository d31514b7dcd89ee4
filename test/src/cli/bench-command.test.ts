import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { benchCommand } from '../../../src/cli/bench-command.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('benchCommand', () => {
  it('prints a clear message and returns 1 when the harness is missing', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await benchCommand([], fixture('no-such-bench.ts'))).toBe(1);
      expect(String(write.mock.calls[0]?.[0])).toMatch(/sluice bench: the benchmark harness is not here \(.*no-such-bench\.ts is missing\)/);
    } finally {
      write.mockRestore();
    }
  });

  it("hands the arguments to the harness's main() and returns its exit code", async () => {
    expect(await benchCommand(['--ok'], fixture('bench-main.ts'))).toBe(0);
    expect(await benchCommand(['--bad'], fixture('bench-main.ts'))).toBe(3);
  });

  it('returns 1 with a message when the module has no main()', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await benchCommand([], fixture('no-topology.ts'))).toBe(1);
      expect(String(write.mock.calls[0]?.[0])).toMatch(/does not export main\(args\)/);
    } finally {
      write.mockRestore();
    }
  });
});
