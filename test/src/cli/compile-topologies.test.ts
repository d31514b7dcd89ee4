import { execFile } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compileTopologies } from '../../../src/cli/compile-topologies.js';
import { InvalidConfigError } from '../../../src/errors.js';
import { useTempDir } from '../../helpers/temp-dir.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const compileTopology = async (file: string): Promise<string> => (await compileTopologies([file]))[0]!;
const run = promisify(execFile);

const MAIN = `import { Observable } from 'rxjs';
import { where, libUrl, value } from './lib.js';

export const urls = [import.meta.url, libUrl];
export const folder: string = import.meta.dirname;
export const isObservable = (x: unknown): boolean => x instanceof Observable;
export { where, value };
`;
const LIB = (value: string) => `// line 1
export const libUrl = import.meta.url;
export const value = '${value}';
export function where(): string {
  return new Error('here').stack!.split('\\n')[1]!;
}
`;

describe('compileTopologies', () => {
  const dir = useTempDir('compile-topology');
  let tmpBefore: string | undefined;

  beforeEach(async () => {
    // The compiled copies go under the OS temp folder: this test's own.
    tmpBefore = process.env.TMPDIR;
    process.env.TMPDIR = join(dir(), 'tmp');
    await mkdir(join(dir(), 'tmp'));
    await mkdir(join(dir(), 'project', 'node_modules'), { recursive: true });
    await symlink(join(ROOT, 'node_modules', 'rxjs'), join(dir(), 'project', 'node_modules', 'rxjs'));
    await symlink(ROOT, join(dir(), 'project', 'node_modules', 'sluice'));
    await writeFile(join(dir(), 'project', 'main.ts'), MAIN);
    await writeFile(join(dir(), 'project', 'lib.ts'), LIB('one'));
  });
  afterEach(() => {
    if (tmpBefore === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = tmpBefore;
  });

  it('bundles the local modules (./lib.js is lib.ts), imports packages by the URL they resolve to, and keeps each file its own import.meta', async () => {
    const main = join(dir(), 'project', 'main.ts');
    const url = await compileTopology(main);
    expect(fileURLToPath(url).startsWith(join(dir(), 'tmp', `sluice-topologies-${process.getuid!()}`))).toBe(true);
    const code = await readFile(fileURLToPath(url), 'utf8');
    expect(code).toContain(`from "${pathToFileURL(join(ROOT, 'node_modules', 'rxjs', 'dist', 'cjs', 'index.js')).href}"`);
    expect(code).not.toMatch(/from "rxjs"|from "\.\/lib\.js"/);
    const mod = (await import(url)) as { urls: string[]; folder: string };
    expect(mod.urls).toEqual([pathToFileURL(main).href, pathToFileURL(join(dir(), 'project', 'lib.ts')).href]);
    expect(mod.folder).toBe(join(dir(), 'project'));
  });

  it('reuses the compiled module while every file it was made from is unchanged, and compiles again when one changes', async () => {
    const main = join(dir(), 'project', 'main.ts');
    const first = await compileTopology(main);
    const written = (await stat(fileURLToPath(first))).mtimeMs;
    expect(await compileTopology(main)).toBe(first);
    // What it was made from: the sources, the package file imported and the package.json that chose it.
    const folder = join(dir(), 'tmp', `sluice-topologies-${process.getuid!()}`);
    const manifest = JSON.parse(
      await readFile(
        join(
          folder,
          (await readdir(folder)).find((f) => f.endsWith('.json'))!,
        ),
        'utf8',
      ),
    ) as { inputs: { path: string }[] };
    expect(manifest.inputs.map((i) => i.path)).toEqual(
      expect.arrayContaining([
        main,
        join(dir(), 'project', 'lib.ts'),
        join(ROOT, 'node_modules', 'rxjs', 'dist', 'cjs', 'index.js'),
        join(ROOT, 'node_modules', 'rxjs', 'package.json'),
      ]),
    );
    expect((await stat(fileURLToPath(first))).mtimeMs).toBe(written);

    await writeFile(join(dir(), 'project', 'lib.ts'), LIB('two'));
    await utimes(join(dir(), 'project', 'lib.ts'), new Date(), new Date(Date.now() + 5_000));
    const second = await compileTopology(main);
    expect(second).not.toBe(first);
    expect(await readFile(fileURLToPath(second), 'utf8')).toContain(`"two"`);
    // The copy made before the change is removed.
    await expect(stat(fileURLToPath(first))).rejects.toThrow(/ENOENT/);
  });

  it('compiles several files together: a local module both import is one module (a shared chunk), as under Node', async () => {
    await writeFile(join(dir(), 'project', 'shared.ts'), `export const seen: string[] = [];\n`);
    await mkdir(join(dir(), 'project', 'sub'));
    await writeFile(join(dir(), 'project', 'a.ts'), `import { seen } from './shared.js';\nseen.push('a');\nexport { seen };\n`);
    await writeFile(join(dir(), 'project', 'sub', 'a.ts'), `import { seen } from '../shared.js';\nseen.push('sub/a');\nexport { seen };\n`);
    const [a, subA] = await compileTopologies([join(dir(), 'project', 'a.ts'), join(dir(), 'project', 'sub', 'a.ts')]);
    expect(a).not.toBe(subA);
    const first = (await import(a!)) as { seen: string[] };
    const second = (await import(subA!)) as { seen: string[] };
    expect(second.seen).toBe(first.seen);
    expect(first.seen).toEqual(['a', 'sub/a']);
  });

  it('compiles a topology reached through a symbolic link (to the file, or to a folder above it) as its real file, as Node would load it', async () => {
    await symlink(join(dir(), 'project', 'main.ts'), join(dir(), 'project', 'link.ts'));
    await symlink(join(dir(), 'project'), join(dir(), 'linked-project'));
    const real = pathToFileURL(join(dir(), 'project', 'main.ts')).href;
    for (const file of [join(dir(), 'project', 'link.ts'), join(dir(), 'linked-project', 'main.ts')]) {
      const mod = (await import(await compileTopology(file))) as { urls: string[] };
      expect(mod.urls[0]).toBe(real);
    }
    // Two names of one file: one module.
    const [a, b] = await compileTopologies([join(dir(), 'project', 'main.ts'), join(dir(), 'project', 'link.ts')]);
    expect(a).toBe(b);
  });

  it('names the file, line and column when a module does not compile', async () => {
    await writeFile(join(dir(), 'project', 'bad.ts'), `import { x } from './lib.js';\n\nconst y = ;\nexport default x;\n`);
    const err = await compileTopologies([join(dir(), 'project', 'bad.ts')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidConfigError);
    expect((err as Error).message).toMatch(/^sluice run: 'file' .*bad\.ts does not compile: .*bad\.ts:3:11: Unexpected ";"/);
  });

  it('never keeps or reads compiled code in a cache folder others can write to, or one that is a link: a fresh private folder instead', async () => {
    const main = join(dir(), 'project', 'main.ts');
    const cache = join(dir(), 'tmp', `sluice-topologies-${process.getuid!()}`);
    // World-writable: another local user could have planted a "compiled" module and its manifest there.
    await mkdir(cache);
    await chmod(cache, 0o777);
    const open = await compileTopology(main);
    expect(fileURLToPath(open).startsWith(cache)).toBe(false);
    const fresh = /^(.*[/\\]sluice-topology-[^/\\]+)[/\\]/.exec(fileURLToPath(open))?.[1];
    expect(fresh).toBeDefined();
    expect((await stat(fresh!)).mode & 0o077).toBe(0);
    expect(await readdir(cache)).toEqual([]);
    // A link in its place (to a folder someone else controls): not followed.
    await rm(cache, { recursive: true });
    const elsewhere = join(dir(), 'elsewhere');
    await mkdir(elsewhere, { mode: 0o700 });
    await symlink(elsewhere, cache);
    const linked = await compileTopology(main);
    expect(fileURLToPath(linked).startsWith(cache)).toBe(false);
    expect(await readdir(elsewhere)).toEqual([]);
    // The compiled module works from the fresh folder.
    expect(((await import(linked)) as { value: string }).value).toBe('one');
  });

  it('says TMPDIR cannot hold the compiled topology when it cannot be written', async () => {
    await writeFile(join(dir(), 'not-a-folder'), '');
    process.env.TMPDIR = join(dir(), 'not-a-folder');
    const err = await compileTopology(join(dir(), 'project', 'main.ts')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidConfigError);
    expect((err as Error).message).toMatch(
      /^sluice run: 'TMPDIR' '.*not-a-folder' cannot hold the compiled topology \((ENOTDIR|EEXIST) on .*\): point TMPDIR at a folder/,
    );
  });

  it("maps stack traces back to the .ts file's lines", async () => {
    const url = await compileTopology(join(dir(), 'project', 'main.ts'));
    // A process of its own (plain Node, as the CLI is): source maps are switched on by compileTopology there too.
    const script = `process.setSourceMapsEnabled(true); const m = await import(${JSON.stringify(url)}); console.log(m.where());`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_OPTIONS: '' } });
    expect(stdout.trim()).toMatch(new RegExp(`${join(dir(), 'project', 'lib.ts').replaceAll('/', '\\/')}:5:\\d+\\)?$`));
  });

  it("without Node's source maps switched on, maps frames in compiled files when a stack is written, and only those", async () => {
    const url = await compileTopology(join(dir(), 'project', 'main.ts'));
    // mapCompiledStacks as the sluice command runs it: in plain Node, bundled here for that process.
    const esbuild = await import('esbuild');
    const helper = join(dir(), 'map-compiled-stacks.mjs');
    await esbuild.build({
      entryPoints: [join(ROOT, 'src/cli/map-compiled-stacks.ts')],
      outfile: helper,
      bundle: true,
      format: 'esm',
      platform: 'node',
      logLevel: 'silent',
    });
    const folder = join(dir(), 'tmp', `sluice-topologies-${process.getuid!()}`);
    const script = [
      `const { mapCompiledStacks } = await import(${JSON.stringify(pathToFileURL(helper).href)});`,
      `mapCompiledStacks(${JSON.stringify(folder)});`,
      `const m = await import(${JSON.stringify(url)});`,
      `console.log(m.where());`,
      `console.log(String(process.sourceMapsEnabled));`,
      `const e = new TypeError('not mapped'); console.log(e.stack.split('\\n').slice(0, 2).join(' | '));`,
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_OPTIONS: '' } });
    const [where, enabled, plain] = stdout.trim().split('\n');
    expect(where).toMatch(new RegExp(`at (Module\\.)?where \\(${join(dir(), 'project', 'lib.ts').replaceAll('/', '\\/')}:5:\\d+\\)$`));
    expect(enabled).toBe('false');
    expect(plain).toMatch(/^TypeError: not mapped \| {5}at .*\[eval1\]:6:\d+/);
  });

  it('resolves packages with the conditions this process runs with (here: sluice-source, the repository sources)', async () => {
    await writeFile(join(dir(), 'project', 'uses-sluice.ts'), `export { defineTopology } from 'sluice';\n`);
    const code = await readFile(fileURLToPath(await compileTopology(join(dir(), 'project', 'uses-sluice.ts'))), 'utf8');
    expect(code).toContain(pathToFileURL(join(ROOT, 'src', 'index.ts')).href);
  });
});
