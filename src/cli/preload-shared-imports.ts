import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';

/**
 * Packages a TypeScript topology commonly imports that are safe to load early: no import-order
 * side effects, and the CLI's own runtime or its peers. Anything else a topology imports (a
 * driver, an instrumentation module that must come first) is left to load in its own order.
 */
const SHARED = ['sluice', 'sluice/operators', 'sluice/testing', 'sluice/engine', 'sluice/errors', 'rxjs', 'rxjs/operators', 'zod'];
/** Local modules read to find what a topology imports: it and its own helpers (schemas, drivers). */
const MAX_FILES = 50;
const IMPORT = /(?:^|[\s;])(?:import|export)\s(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]/g;

/**
 * Imports, before the TypeScript loader is registered, the packages of {@link SHARED} that the
 * topology `file` (or a local module it imports) names and that it would get the same copy of as
 * this CLI. Why: once tsx's hooks are registered, every later import passes through them (on
 * Node 20 in a separate loader thread), and a .ts topology's imports of rxjs (224 CommonJS
 * modules), zod (~95) and the sluice runtime cost about 40% more CPU and ~15 MiB more memory
 * that way than loaded directly (issue 14, docs/bench.md). The topology then finds them loaded.
 * Best effort: a file it cannot read or a package it cannot load is left to the real import.
 */
export async function preloadSharedImports(file: string): Promise<void> {
  const named = bareImportsOf(file);
  const own = createRequire(import.meta.url);
  const theirs = createRequire(file);
  for (const specifier of SHARED) {
    if (!named.has(specifier)) continue;
    const pkg = specifier.split('/')[0]!;
    try {
      // The same package directory from here and from the topology: one copy, so loading it here is the topology's load.
      if (own.resolve(`${pkg}/package.json`) !== theirs.resolve(`${pkg}/package.json`)) continue;
      await import(specifier);
    } catch {
      // Left to the topology's own import, which reports it properly.
    }
  }
}

/** The bare specifiers (packages) imported by `file` and the local modules it imports, transitively. */
function bareImportsOf(file: string): Set<string> {
  const bare = new Set<string>();
  const seen = new Set<string>();
  const queue = [file];
  while (queue.length > 0 && seen.size < MAX_FILES) {
    const path = queue.shift()!;
    if (seen.has(path)) continue;
    seen.add(path);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    for (const [statement, specifier] of text.matchAll(IMPORT)) {
      // `import type` is erased: it loads nothing.
      if (specifier === undefined || specifier.startsWith('node:') || /^\s*(?:import|export)\s+type\s/.test(statement.replace(/^;/, ''))) continue;
      if (!specifier.startsWith('.')) bare.add(specifier);
      else {
        const local = sourceOf(resolve(dirname(path), specifier));
        if (local !== undefined) queue.push(local);
      }
    }
  }
  return bare;
}

/** The file a relative import means: as written, or the .ts source of a `.js` specifier (how tsc-style sources import). */
function sourceOf(path: string): string | undefined {
  const candidates = [path, path.replace(/\.(c|m)?js$/, '.$1ts'), `${path}.ts`, `${path}/index.ts`];
  return candidates.find((p) => existsSync(p) && /\.[cm]?[jt]sx?$/.test(p));
}
