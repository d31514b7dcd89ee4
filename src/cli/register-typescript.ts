import { extname } from 'node:path';
import { preloadSharedImports } from './preload-shared-imports.js';

/** Extensions that need a TypeScript loader; `.js`, `.mjs` and `.cjs` topologies load as they are. */
const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);

/**
 * Set by whoever already registered a TypeScript loader for this process (bin/sluice.js, which
 * runs the CLI from its sources), so it is not registered twice.
 */
export const TYPESCRIPT_LOADER = Symbol.for('sluice.typescript-loader');

/**
 * Registers tsx (once per process) when `file` is TypeScript, before it is imported: a failed
 * import of a `.ts` URL is cached by Node, so registering after the failure would not help.
 * tsx is loaded here and nowhere else: a `.js` topology never pays for it (~60 ms and ~15 MiB).
 * The packages the topology shares with the CLI (sluice, rxjs, zod) are loaded first, past tsx's
 * hooks ({@link preloadSharedImports}).
 * Node's own type stripping (22.6+) is not used: it does not map the `./schemas.js` imports of
 * TypeScript sources to their `.ts` files, which every topology written for tsc uses.
 */
export async function registerTypeScriptFor(file: string): Promise<void> {
  if (!TYPESCRIPT.has(extname(file)) || isRegistered()) return;
  await preloadSharedImports(file);
  const { register } = await import('tsx/esm/api');
  register();
  (globalThis as Record<symbol, unknown>)[TYPESCRIPT_LOADER] = true;
}

function isRegistered(): boolean {
  return (globalThis as Record<symbol, unknown>)[TYPESCRIPT_LOADER] === true;
}
