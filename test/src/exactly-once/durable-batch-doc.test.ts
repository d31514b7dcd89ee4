import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../../..');
const doc = await readFile(join(repo, 'docs/exactly-once.md'), 'utf8');
const section = doc.slice(doc.indexOf('## Durable batches'));
const blocks = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');

/**
 * Runs the TypeScript examples of the "Durable batches" section of docs/exactly-once.md as a user
 * would (own process, importing 'sluice'); each `// prints:` line must appear, in order.
 */
describe('docs/exactly-once.md: Durable batches examples', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-dbatch-doc-'));
    const modules = join(dir, 'node_modules');
    await mkdir(modules);
    for (const name of await readdir(join(repo, 'node_modules'))) {
      if (!name.startsWith('.')) await symlink(join(repo, 'node_modules', name), join(modules, name));
    }
    await symlink(repo, join(modules, 'sluice'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('has an example', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(1);
  });

  it.each(blocks.map((code, i) => [i + 1, code] as const))('example %i runs and prints what it says', async (i, code) => {
    const file = join(dir, `example-${i}.mts`);
    await writeFile(file, code);
    const { stdout } = await run(process.execPath, ['--import', 'tsx', file], { cwd: dir, timeout: 60_000 });
    const expected = [...code.matchAll(/\/\/ prints: (.*)$/gm)].map((m) => m[1] ?? '');
    expect(expected.length).toBeGreaterThan(0);
    let from = 0;
    for (const line of expected) {
      const at = stdout.indexOf(line, from);
      expect(at, `'${line}' in:\n${stdout}`).toBeGreaterThanOrEqual(0);
      from = at + line.length;
    }
  });
});
