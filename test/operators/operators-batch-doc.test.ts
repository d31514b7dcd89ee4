import { describe, expect, it } from 'vitest';
import { docExamples, runDocExample, useDocSandbox } from '../helpers/doc-examples.js';

const blocks = await docExamples('docs/operators-batch.md');

/** Every example of docs/operators-batch.md runs as written and prints what its `// prints:` lines say. */
describe('docs/operators-batch.md examples', () => {
  const sandbox = useDocSandbox();

  it('has an example per operator', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(7);
  });

  it.each(blocks.map((code, i) => [i + 1, code] as const))('example %i runs and prints what it says', async (i, code) => {
    expect(code).toMatch(/\/\/ prints: /);
    await runDocExample(sandbox(), `example-${i}`, code);
  });
});
