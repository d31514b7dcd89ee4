import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Loader, Message, Plugin } from 'esbuild';
import { InvalidConfigError } from '../errors.js';
import { mapCompiledStacks } from './map-compiled-stacks.js';
import { packageVersion } from '../package-version.js';

/** Extensions compiled before import; `.js`, `.mjs` and `.cjs` topologies load as they are. */
const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);
const LOADERS: Record<string, Loader> = { '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.tsx': 'tsx', '.js': 'js', '.mjs': 'js', '.cjs': 'js', '.jsx': 'jsx' };
const IMPORT_META = /\bimport\.meta\.(url|filename|dirname)\b/g;
const BUILTINS = new Set(builtinModules);

/** Whether `file` is TypeScript, which {@link compileTopologies} compiles before it is imported. */
export function isTypeScript(file: string): boolean {
  return TYPESCRIPT.has(extname(file));
}

/** What compiled topologies were made from: when each of these files is as it was, the outputs are reused. */
interface Manifest {
  /** The folder the compiled modules are in, named by their content. */
  readonly folder: string;
  /** The compiled module of each topology file, in the order given. */
  readonly entries: readonly string[];
  /** Every file written (entries and shared chunks). */
  readonly files: readonly string[];
  readonly inputs: readonly { readonly path: string; readonly mtimeMs: number; readonly size: number }[];
}

/**
 * Compiles TypeScript topologies and the local modules they import into ES modules (esbuild)
 * and returns, for each file, the URL of its module to import. Several files are compiled
 * together, so a local module two of them import (a topology and its demo driver sharing
 * SUBJECTS) is one module in a shared chunk, as it is under Node. Why not a loader hook (tsx):
 * on Node 20 hooks run in a thread of their own that every later import passes through; the
 * demo compiled and reused started with 290 ms less CPU and 25 MiB less idle RSS (docs/bench.md,
 * start-up, fourth pass); compiled modules load like `.js` ones.
 *
 * What stays as it was: packages (bare specifiers) are not bundled but imported by the absolute
 * URL they resolve to from the importing file, with Node's conditions plus the process's
 * `--conditions`, so the topology shares one copy of sluice, rxjs and the rest with the CLI;
 * `import.meta.url`, `.filename` and `.dirname` are each source file's own; error stack traces
 * point at the `.ts` lines (a `.map` beside each file, read when a stack first passes through it:
 * map-compiled-stacks.ts); class and
 * function names are kept. What differs: `import.meta.resolve` and `import()` of a computed
 * path resolve from the compiled file.
 *
 * The output is kept under the OS temp folder (`sluice-topologies-<uid>/`, private to the user)
 * with a manifest of every file it was made from (sources, the tsconfig.json above them, each
 * package file they import and its package.json, by modification time and size): a later start that finds them all
 * unchanged imports it without loading esbuild (~80 ms less).
 *
 * @throws InvalidConfigError naming the file, line and esbuild's message when one does not
 *   compile, or naming TMPDIR when the compiled modules cannot be written there.
 */
export async function compileTopologies(files: readonly string[]): Promise<string[]> {
  try {
    return await compileAndKeep(files);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof InvalidConfigError || typeof code !== 'string' || !('path' in (err as object))) throw err;
    throw new InvalidConfigError(
      'sluice run',
      'TMPDIR',
      `'${tmpdir()}' cannot hold the compiled topology (${code} on ${(err as NodeJS.ErrnoException).path}): point TMPDIR at a folder this user can write, or run a topology compiled to .js`,
      { cause: err },
    );
  }
}

async function compileAndKeep(given: readonly string[]): Promise<string[]> {
  // As Node does (without --preserve-symlinks), and as esbuild names its entry points: by their real paths.
  const real = await Promise.all(given.map((f) => realpath(f)));
  const files = [...new Set(real)];
  const conditions = processConditions();
  const dir = await cacheDir();
  const name = basename(files[0]!, extname(files[0]!));
  const key = createHash('sha256')
    .update(JSON.stringify([files, conditions, process.versions.node, packageVersion()]))
    .digest('hex')
    .slice(0, 16);
  const manifestPath = join(dir, `${name}-${key}.json`);
  const previous = await readManifest(manifestPath);
  let manifest = previous !== undefined && (await unchanged(previous)) ? previous : undefined;
  if (manifest === undefined) {
    // Built as if into `${name}-${key}/`, written into a folder beside it named by the content: the same depth, so the source maps' relative paths hold.
    const { outputs, entries, inputs } = await compile(files, join(dir, `${name}-${key}`), conditions);
    const hash = createHash('sha256');
    for (const o of outputs) hash.update(o.path).update(o.text);
    const outDir = join(dir, `${name}-${hash.digest('hex').slice(0, 16)}`);
    const moved = (p: string) => join(outDir, relative(join(dir, `${name}-${key}`), p));
    await writeFolderWhole(
      outDir,
      outputs.map((o) => ({ path: moved(o.path), text: o.text })),
    );
    manifest = {
      folder: outDir,
      entries: entries.map(moved),
      files: outputs.map((o) => moved(o.path)),
      inputs: await Promise.all(inputs.map(async (path) => ({ path, ...(await stamp(path)) }))),
    };
    await writeWhole(manifestPath, JSON.stringify(manifest));
    // The copy compiled before this change is no longer wanted (a start already running has it loaded).
    if (previous !== undefined && previous.folder !== outDir && dirname(previous.folder) === dir) await rm(previous.folder, { recursive: true, force: true });
  }
  mapCompiledStacks(dir);
  const urls = manifest.entries.map((e) => pathToFileURL(e).href);
  return real.map((f) => urls[files.indexOf(f)]!);
}

async function compile(
  files: readonly string[],
  outdir: string,
  conditions: string[],
): Promise<{ outputs: { path: string; text: string }[]; entries: string[]; inputs: string[] }> {
  const esbuild = await import('esbuild');
  const packages = new Set<string>();
  const base = commonFolder(files);
  try {
    const result = await esbuild.build({
      entryPoints: [...files],
      absWorkingDir: base,
      outbase: base,
      outdir,
      entryNames: '[dir]/[name]',
      chunkNames: 'chunks/[name]-[hash]',
      outExtension: { '.js': '.mjs' },
      splitting: true,
      write: false,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: `node${process.versions.node}`,
      conditions,
      mainFields: ['main'],
      keepNames: true,
      sourcemap: 'linked',
      sourcesContent: false,
      metafile: true,
      logLevel: 'silent',
      plugins: [packagesByUrl(packages), ownImportMeta()],
    });
    const byEntry = new Map(
      Object.entries(result.metafile.outputs)
        .filter(([, o]) => o.entryPoint !== undefined)
        .map(([out, o]) => [resolve(base, o.entryPoint!), resolve(base, out)]),
    );
    const sources = Object.keys(result.metafile.inputs).map((p) => resolve(base, p));
    const tsconfigs = [...new Set(sources.map((p) => nearest(dirname(p), 'tsconfig.json')))].filter((p) => p !== undefined);
    // A package's package.json decides which of its files an import resolves to (`exports`, `main`): an upgrade that changes it compiles again.
    const manifests = [...new Set([...packages].map(packageJsonOf))].filter((p) => p !== undefined);
    return {
      outputs: result.outputFiles.map((o) => ({ path: o.path, text: o.text })),
      entries: files.map((f) => byEntry.get(f)!),
      inputs: [...sources, ...tsconfigs, ...packages, ...manifests],
    };
  } catch (err) {
    const errors = (err as { errors?: Message[] }).errors;
    if (errors === undefined) throw err;
    throw new InvalidConfigError('sluice run', 'file', `${files.join(', ')} does not compile: ${errors.map(formatMessage).join('; ')}`, { cause: err });
  } finally {
    await esbuild.stop();
  }
}

async function readManifest(path: string): Promise<Manifest | undefined> {
  try {
    const m = JSON.parse(await readFile(path, 'utf8')) as Partial<Manifest>;
    return typeof m.folder === 'string' && Array.isArray(m.entries) && Array.isArray(m.files) && Array.isArray(m.inputs) ? (m as Manifest) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether every file the manifest names was written and every file it was made from is as it was. */
async function unchanged(m: Manifest): Promise<boolean> {
  try {
    await Promise.all(m.files.map((f) => stat(f)));
    const now = await Promise.all(m.inputs.map((i) => stamp(i.path)));
    return m.inputs.every((i, n) => now[n]!.mtimeMs === i.mtimeMs && now[n]!.size === i.size);
  } catch {
    return false; // A file gone: compile again.
  }
}

/** The folder compiled topologies are kept in: the user's own, not writable by others; a fresh one if that is not so. */
async function cacheDir(): Promise<string> {
  const dir = join(tmpdir(), `sluice-topologies-${process.getuid?.() ?? 'user'}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const s = await lstat(dir);
  // Someone else's folder (or a link) in a shared temp folder could hold code we would import.
  if (s.isDirectory() && (process.getuid === undefined || s.uid === process.getuid()) && (s.mode & 0o022) === 0) return dir;
  return mkdtemp(join(tmpdir(), 'sluice-topology-'));
}

/**
 * The files written into a folder of their own, then renamed into place as `outDir`: another
 * process starting the same topologies never reads half a file. `outDir` is named by its
 * content, so when it is there already (another start won the race) it is the same.
 */
async function writeFolderWhole(outDir: string, files: readonly { path: string; text: string }[]): Promise<void> {
  const tmp = `${outDir}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  for (const f of files) {
    const at = join(tmp, relative(outDir, f.path));
    await mkdir(dirname(at), { recursive: true, mode: 0o700 });
    await writeFile(at, f.text, { mode: 0o600 });
  }
  try {
    await rename(tmp, outDir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    if (!['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  }
}

/** The deepest folder that holds every file. */
function commonFolder(files: readonly string[]): string {
  let common = dirname(files[0]!);
  while (!files.every((f) => f.startsWith(common.endsWith(sep) ? common : common + sep))) common = dirname(common);
  return common;
}

/** Written whole, then renamed into place: another process starting the same topology never reads half a file. */
async function writeWhole(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, path);
}

async function stamp(path: string): Promise<{ mtimeMs: number; size: number }> {
  const s = await stat(path);
  return { mtimeMs: s.mtimeMs, size: s.size };
}

/** The package.json of the package `file` is in: the folder after its last node_modules (a scope takes two), else the nearest one. */
function packageJsonOf(file: string): string | undefined {
  const parts = file.split(sep);
  const at = parts.lastIndexOf('node_modules');
  if (at < 0) return nearest(dirname(file), 'package.json');
  const root = parts.slice(0, at + (parts[at + 1]?.startsWith('@') === true ? 3 : 2)).join(sep);
  return existsSync(join(root, 'package.json')) ? join(root, 'package.json') : undefined;
}

/** `name` in `dir` or the nearest folder above it; undefined when there is none. */
function nearest(dir: string, name: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, name))) return join(d, name);
    if (dirname(d) === d) return undefined;
  }
}

/** Packages stay imports, by the URL Node would load from the importing file (`#` imports of local sources are bundled). */
function packagesByUrl(resolved: Set<string>): Plugin {
  return {
    name: 'sluice-packages-by-url',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === RESOLVING) return undefined;
        if (args.path.startsWith('node:') || BUILTINS.has(args.path)) return { path: args.path, external: true };
        const r = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: RESOLVING });
        if (r.errors.length > 0) return { errors: r.errors };
        if (r.external) return { path: r.path, external: true };
        if (args.path.startsWith('#') && !r.path.split(/[\\/]/).includes('node_modules')) return { path: r.path };
        resolved.add(r.path);
        return { path: pathToFileURL(r.path).href, external: true };
      });
    },
  };
}
const RESOLVING = Symbol('resolving');

/** `import.meta.url` (and `.filename`, `.dirname`) in each bundled file keep meaning that file, not the bundle. */
function ownImportMeta(): Plugin {
  let next = 0;
  return {
    name: 'sluice-own-import-meta',
    setup(build) {
      build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        const loader = LOADERS[extname(args.path)] ?? 'js';
        if (!IMPORT_META.test(source)) return { contents: source, loader };
        IMPORT_META.lastIndex = 0;
        const meta = `__sluice_import_meta_${next++}`;
        const value = JSON.stringify({ url: pathToFileURL(args.path).href, filename: args.path, dirname: dirname(args.path) });
        // On the first line (after a hashbang), so every later line keeps its number for the source map.
        const hashbang = source.startsWith('#!') ? source.slice(0, source.indexOf('\n') + 1) : '';
        const body = source.slice(hashbang.length).replace(IMPORT_META, (_, field: string) => `${meta}.${field}`);
        return { contents: `${hashbang}const ${meta} = ${value};${body}`, loader };
      });
    },
  };
}

/** `--conditions` / `-C` given to this process (its arguments or NODE_OPTIONS): packages resolve as Node resolves them here. */
function processConditions(): string[] {
  const args = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean)];
  const found: string[] = [];
  for (const [i, a] of args.entries()) {
    const m = /^(?:--conditions|-C)(?:=(.+))?$/.exec(a);
    const value = m?.[1] ?? (m !== null ? args[i + 1] : undefined);
    if (value !== undefined) found.push(value);
  }
  return found;
}

function formatMessage(m: Message): string {
  const at = m.location !== null ? `${m.location.file}:${m.location.line}:${m.location.column + 1}: ` : '';
  return `${at}${m.text}`;
}
