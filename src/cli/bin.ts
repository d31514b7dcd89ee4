#!/usr/bin/env node
// The package's `sluice` command (compiled to dist/src/cli/bin.js). Plain JavaScript at run time:
// a TypeScript loader is registered only when a .ts topology is loaded (register-typescript.ts).
import * as nodeModule from 'node:module';

// Node 22.1+ keeps compiled code of the ~600 modules a start loads on disk (less than half the
// compile work on the next start); Node 20 has no such cache, so this does nothing there.
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();
const { main } = await import('./main.js');
process.exit(await main(process.argv));
