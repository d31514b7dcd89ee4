import { readdir, readFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

interface PackageJson {
  name: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

/** Every `.ts` file under `dir`, recursively. */
async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(join(ROOT, dir), { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => join(e.parentPath, e.name));
}

/**
 * The bare specifiers a source file loads: static and dynamic imports, `import type` included
 * (the emitted .d.ts files name them too), and `createRequire(...)('x')` / `require('x')`.
 * Comment lines are skipped: doc comments show user code importing from anywhere.
 */
function bareSpecifiers(source: string): string[] {
  const code = source
    .split('\n')
    .filter((line) => !/^\s*(\/\/|\*|\/\*)/.test(line))
    .join('\n');
  const found = [...code.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*|\)\(\s*)'([^'./][^']*)'/g)].map((m) => m[1]!);
  return found.filter((s) => !s.startsWith('node:') && !builtinModules.includes(s));
}

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

describe('runtime dependencies', () => {
  it('every package that src/ and operators/ load is a runtime dependency (not a dev or bench one)', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
    const missing: string[] = [];
    for (const file of [...(await sources('src')), ...(await sources('operators'))]) {
      for (const spec of bareSpecifiers(await readFile(file, 'utf8'))) {
        const name = packageOf(spec);
        if (name !== pkg.name && pkg.dependencies[name] === undefined) missing.push(`${relative(ROOT, file)}: '${spec}'`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('finds imports of every form, and not those in comments', () => {
    const source = [
      "import { a } from 'rxjs';",
      "import type { B } from '@nats-io/jetstream';",
      "import 'side-effect';",
      "export { c } from 'zod/v4';",
      "const d = await import('tsx/esm/api');",
      "const e = createRequire(import.meta.url)('@opentelemetry/api');",
      "import { f } from './local.js';",
      "import { g } from 'node:fs';",
      "import { h } from 'path';",
      " * import { defineTopology } from 'vega';",
      "// import 'vega-lite';",
    ].join('\n');
    expect(bareSpecifiers(source).map(packageOf)).toEqual(['rxjs', '@nats-io/jetstream', 'side-effect', 'zod', 'tsx', '@opentelemetry/api']);
  });

  it('keeps chart, test and bench packages out of the runtime dependencies', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
    for (const name of ['vega', 'vega-lite', '@nats-io/kv', 'hdr-histogram-js', 'typescript', 'vitest']) {
      expect(pkg.dependencies[name], name).toBeUndefined();
      expect(pkg.devDependencies[name], name).toBeDefined();
    }
  });
});
