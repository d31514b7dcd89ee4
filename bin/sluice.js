#!/usr/bin/env node
// Registers tsx so the CLI and the topology files it loads can be TypeScript, with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exit(await main(process.argv));
