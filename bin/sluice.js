#!/usr/bin/env node
// The `sluice` command run from this repository's sources, with no build step (tests, `npm start`,
// topologies/ while developing). The installed package runs the compiled dist/src/cli/bin.js.
// tsx compiles the sources; the `sluice-source` export condition makes `import ... from 'sluice'`
// in a topology resolve to src/ (package.json `exports`), so the CLI and the topology share one
// copy of the runtime.
import { register as registerHooks } from 'node:module';
import { register } from 'tsx/esm/api';

register();
const addSourceCondition = (specifier, context, next) =>
  next(specifier, context.conditions.includes('sluice-source') ? context : { ...context, conditions: [...context.conditions, 'sluice-source'] });
registerHooks(`data:text/javascript,${encodeURIComponent(`export const resolve = ${addSourceCondition};`)}`);
globalThis[Symbol.for('sluice.typescript-loader')] = true;
const { main } = await import('../src/cli/main.ts');
process.exit(await main(process.argv));
