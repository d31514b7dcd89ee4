import { describe, expect, it } from 'vitest';
import { docExamples, runDocExample, useDocSandbox } from '../../helpers/doc-examples.js';
import { useNatsServer } from '../../helpers/nats-server.js';

const blocks = await docExamples('docs/transports.md');

/**
 * Every example of docs/transports.md runs as written, once on the local transport and once with
 * NATS_URL set, and prints what its `// prints:` lines say.
 */
describe('docs/transports.md examples', () => {
  const server = useNatsServer();
  const sandbox = useDocSandbox();

  it('has examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
  });

  describe.each(['local', 'nats'] as const)('on the %s transport', (kind) => {
    it.each(blocks.map((code, i) => [i + 1, code] as const))('example %i runs and prints what it says', async (i, code) => {
      const env: NodeJS.ProcessEnv = { ...process.env, NATS_URL: kind === 'nats' ? server().url : '' };
      await runDocExample(sandbox(), `example-${kind}-${i}`, code, env);
    });
  });
});
