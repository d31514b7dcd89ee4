import { describe, expect, it } from 'vitest';
import { docExamples, runDocExample, useDocSandbox } from '../../helpers/doc-examples.js';

const blocks = await docExamples('docs/exactly-once.md', { section: '## Durable batches' });

/** The examples of the "Durable batches" section of docs/exactly-once.md run as written. */
describe('docs/exactly-once.md: Durable batches examples', () => {
  const sandbox = useDocSandbox();

  it('has an example', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(1);
  });

  it.each(blocks.map((code, i) => [i + 1, code] as const))('example %i runs and prints what it says', async (i, code) => {
    expect(code).toMatch(/\/\/ prints: /);
    await runDocExample(sandbox(), `example-${i}`, code);
  });
});
