import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** rxjs's CommonJS entry points and where each one's exports sit in the one-file bundle. */
const ENTRIES = [
  ['rxjs', (umd: Namespace) => withoutSubpaths(umd)],
  ['rxjs/operators', (umd: Namespace) => umd.operators],
  ['rxjs/testing', (umd: Namespace) => umd.testing],
  ['rxjs/ajax', (umd: Namespace) => umd.ajax],
  ['rxjs/fetch', (umd: Namespace) => umd.fetch],
  ['rxjs/webSocket', (umd: Namespace) => umd.webSocket],
] as const;
const SUBPATHS = new Set(['operators', 'testing', 'ajax', 'fetch', 'webSocket']);

type Namespace = Record<string, unknown>;

/**
 * Loads rxjs from the one-file bundle it ships (`dist/bundles/rxjs.umd.js`) and enters it in
 * Node's module cache as rxjs's CommonJS entry points (`rxjs`, `rxjs/operators`, `rxjs/testing`,
 * ...), so every later `require` or `import` of them — the CLI's, the topology's, any other
 * package's — gets this one copy. Why: the CommonJS build is ~230 files, and resolving, reading
 * and compiling them costs 70-110 ms and ~11 MiB of a start; the bundle, the same version built
 * from the same sources to the same ES5, ~10 ms and ~1 MiB (docs/bench.md, start-up).
 *
 * For the `sluice` command only (bin.ts), before anything loads rxjs. A deep import
 * (`rxjs/internal/...`) still loads its own file with its own classes, as it would beside the
 * ESM build. When the bundle is missing, or an entry is already loaded, rxjs loads as usual.
 *
 * @param from a file URL or path that rxjs resolves from (the CLI's own module).
 */
export function preloadRxjsBundle(from: string): void {
  const require = createRequire(from);
  let umd: Namespace;
  let files: string[];
  try {
    files = ENTRIES.map(([specifier]) => require.resolve(specifier));
    if (files.some((f) => require.cache[f] !== undefined)) return;
    umd = require(join(dirname(require.resolve('rxjs/package.json')), 'dist', 'bundles', 'rxjs.umd.js')) as Namespace;
  } catch {
    return;
  }
  for (const [i, [, exportsOf]] of ENTRIES.entries()) {
    const m = new Module(files[i]!);
    m.filename = files[i]!;
    m.exports = exportsOf(umd);
    m.loaded = true;
    require.cache[files[i]!] = m;
  }
}

function withoutSubpaths(umd: Namespace): Namespace {
  return Object.fromEntries(Object.entries(umd).filter(([k]) => !SUBPATHS.has(k)));
}
