#!/usr/bin/env node
// The package's `sluice` command (compiled to dist/src/cli/bin.js). Plain JavaScript at run time:
// a .ts topology is compiled to one ES module when it is loaded (compile-topologies.ts).
import * as nodeModule from 'node:module';
import { preloadRxjsBundle } from './preload-rxjs-bundle.js';

// Node 22.1+ keeps compiled code of the ~600 modules a start loads on disk (less than half the
// compile work on the next start); Node 20 has no such cache, so this does nothing there.
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();
// Before anything loads rxjs: one file instead of ~230 (preload-rxjs-bundle.ts).
preloadRxjsBundle(import.meta.url);
const { main } = await import('./main.js');
process.exit(await main(process.argv));
