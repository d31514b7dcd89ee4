import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect } from 'vitest';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');

/** The ```ts blocks of a doc (path relative to the repository), from `section` (a heading) on when given. */
export async function docExamples(docPath: string, options: { section?: string } = {}): Promise<string[]> {
  const doc = await readFile(join(repo, docPath), 'utf8');
  const text = options.section === undefined ? doc : doc.slice(doc.indexOf(options.section));
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

/**
 * A temp directory where doc examples run as a user would run them: in their own process,
 * importing 'sluice' and 'sluice/operators' (linked to this repository). Made in `beforeAll`,
 * removed in `afterAll`.
 */
export function useDocSandbox(): () => string {
  let dir: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-doc-'));
    const modules = join(dir, 'node_modules');
    await mkdir(modules);
    for (const name of await readdir(join(repo, 'node_modules'))) {
      if (!name.startsWith('.')) await symlink(join(repo, 'node_modules', name), join(modules, name));
    }
    await symlink(repo, join(modules, 'sluice'));
  });
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (dir === undefined) throw new Error('useDocSandbox: not set up yet (call inside a test)');
    return dir;
  };
}

/**
 * Runs one example in the sandbox and checks that each of its `// prints:` lines appears in its
 * output, in order. Returns the output.
 */
export async function runDocExample(dir: string, name: string, code: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const file = join(dir, `${name}.mts`);
  await writeFile(file, code);
  const { stdout } = await run(process.execPath, ['--import', 'tsx', file], { cwd: dir, env, timeout: 60_000 });
  const expected = [...code.matchAll(/\/\/ prints: (.*)$/gm)].map((m) => m[1] ?? '');
  let from = 0;
  for (const line of expected) {
    const at = stdout.indexOf(line, from);
    expect(at, `'${line}' in:\n${stdout}`).toBeGreaterThanOrEqual(0);
    from = at + line.length;
  }
  return stdout;
}
