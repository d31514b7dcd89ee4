#!/usr/bin/env node
// The package's `sluice` command (compiled to dist/src/cli/bin.js). Plain JavaScript at run time:
// a TypeScript loader is registered only when a .ts topology is loaded (load-topology.ts).
import { main } from './main.js';

process.exit(await main(process.argv));
