import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * scripts/build.js loads some CommonJS packages with `require` instead of `import` (start-up time,
 * issue 14). That is only sound for a package whose `import` gives the same module as its
 * `require`: a CommonJS-only package. msgpackr, the one dual package on the list, is there because
 * Sluice's use of it is private (a second copy costs memory, not behaviour).
 */
const ROOT = resolve(import.meta.dirname, '../..');
const DUAL_ALLOWED = ['msgpackr'];

async function byRequire(): Promise<string[]> {
  const build = await readFile(join(ROOT, 'scripts/build.js'), 'utf8');
  const list = /export const BY_REQUIRE = \[([^\]]*)\]/.exec(build)?.[1];
  if (list === undefined) throw new Error('scripts/build.js has no BY_REQUIRE list');
  return [...list.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
}

/** Whether any `exports` entry of a package.json offers an `import` (or `module`) condition. */
function hasImportCondition(exports: unknown): boolean {
  if (exports === null || typeof exports !== 'object') return false;
  return Object.entries(exports).some(([k, v]) => k === 'import' || k === 'module' || hasImportCondition(v));
}

describe('CommonJS packages loaded by require in dist/', () => {
  it('every package on the list but msgpackr is CommonJS only, so require and import give one copy', async () => {
    const names = await byRequire();
    expect(names).toContain('rxjs');
    for (const name of names.filter((n) => !DUAL_ALLOWED.includes(n))) {
      // Read by path: some packages do not export their package.json.
      const pkg = JSON.parse(await readFile(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { type?: string; exports?: unknown };
      expect(pkg.type ?? 'commonjs', name).toBe('commonjs');
      expect(hasImportCondition(pkg.exports), `${name} offers an ES module build: loading it by require would make a second copy`).toBe(false);
    }
  });

  it('dist/ never imports them: each is required once, from one chunk', async () => {
    const names = await byRequire();
    const files = (await readdir(join(ROOT, 'dist'), { recursive: true })).filter((f) => f.endsWith('.js')).map((f) => join(ROOT, 'dist', f));
    expect(files.length).toBeGreaterThan(5);
    const texts = await Promise.all(files.map((f) => readFile(f, 'utf8')));
    for (const name of names) {
      const imported = texts.some((t) => t.includes(`from "${name}"`) || t.includes(`import("${name}")`));
      expect(imported, `dist/ imports ${name}`).toBe(false);
      expect(texts.filter((t) => t.includes(`createRequire(import.meta.url)(${JSON.stringify(name)})`)).length, name).toBeLessThanOrEqual(1);
    }
  });
});
