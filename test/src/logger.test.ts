import { describe, expect, it } from 'vitest';
import { childLogger, type Logger } from '../../src/logger.js';

describe('childLogger', () => {
  it("uses the logger's own child when it has one", () => {
    const made: object[] = [];
    const child: Logger = { debug() {}, info() {}, warn() {}, error() {} };
    const parent = { debug() {}, info() {}, warn() {}, error() {}, child: (b: object) => (made.push(b), child) };
    expect(childLogger(parent, { topology: 't' })).toBe(child);
    expect(made).toEqual([{ topology: 't' }]);
  });

  it('merges the bindings into every line of a logger without child', () => {
    const lines: Array<[object, string | undefined]> = [];
    const plain: Logger = { debug() {}, info: (o, m) => void lines.push([o, m]), warn() {}, error() {} };
    childLogger(plain, { topology: 't' }).info({ part: 'p' }, 'hello');
    expect(lines).toEqual([[{ topology: 't', part: 'p' }, 'hello']]);
  });
});
