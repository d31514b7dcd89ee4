import { defineConfig } from 'vitest/config';

// `import ... from 'sluice'` (topologies, doc examples) resolves to the TypeScript sources through
// the `sluice-source` export condition, so tests need no build. Child processes the tests start
// (the CLI, crash children, doc examples) inherit it through NODE_OPTIONS.
const SOURCE_CONDITION = '--conditions=sluice-source';
if (!(process.env.NODE_OPTIONS ?? '').includes(SOURCE_CONDITION)) {
  process.env.NODE_OPTIONS = [process.env.NODE_OPTIONS, SOURCE_CONDITION].filter(Boolean).join(' ');
}

export default defineConfig({
  // Vitest's default server conditions after ours (vitest passes them to its workers as --conditions).
  ssr: { resolve: { conditions: ['sluice-source', 'node', 'development|production'] } },
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start their own nats-server processes; two cores cannot run many at once.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    teardownTimeout: 15_000,
  },
});
