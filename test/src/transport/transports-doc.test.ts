import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNatsServer } from '../../helpers/nats-server.js';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../../..');
const doc = await readFile(join(repo, 'docs/transports.md'), 'utf8');
const blocks = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');

const server = useNatsServer();

/**
 * Runs every TypeScript example of docs/transports.md as a user would: in its own process,
 * importing from 'sluice' (linked to this repository), once on the local transport and once with
 * NATS_URL set. Each `// prints:` line must appear in the output, in order.
 */
describe('docs/transports.md examples', () => {
  let dir: string;
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
    await rm(dir, { recursive: true, force: true });
  });

  it('has examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
  });

  describe.each(['local', 'nats'] as const)('on the %s transport', (kind) => {
    it.each(blocks.map((code, i) => [i + 1, code] as const))('example %i runs and prints what it says', async (i, code) => {
      const file = join(dir, `example-${kind}-${i}.mts`);
      await writeFile(file, code);
      const env: NodeJS.ProcessEnv = { ...process.env, NATS_URL: kind === 'nats' ? server().url : '' };
      const { stdout } = await run(process.execPath, ['--import', 'tsx', file], { cwd: dir, env, timeout: 60_000 });
      const expected = [...code.matchAll(/\/\/ prints: (.*)$/gm)].map((m) => m[1] ?? '');
      let from = 0;
      for (const line of expected) {
        const at = stdout.indexOf(line, from);
        expect(at, `'${line}' in:\n${stdout}`).toBeGreaterThanOrEqual(0);
        from = at + line.length;
      }
    });
  });
});
