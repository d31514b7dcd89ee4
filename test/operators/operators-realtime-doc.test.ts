import { describe, expect, it } from 'vitest';
import { docExamples, runDocExample, useDocSandbox } from '../helpers/doc-examples.js';

const blocks = await docExamples('docs/operators-realtime.md');

/** Every example of docs/operators-realtime.md runs as written and prints what its `// prints:` lines say. */
describe('docs/operators-realtime.md examples', () => {
  const sandbox = useDocSandbox();

  it('has an example per operator', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(7);
  });

  it.each(blocks.map((code, i) => [i + 1, code] as const))('example %i runs and prints what it says', async (i, code) => {
    expect(code).toMatch(/\/\/ prints: /);
    await runDocExample(sandbox(), `example-${i}`, code);
  });
});
