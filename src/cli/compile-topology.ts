import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Loader, Message, Plugin } from 'esbuild';
import { InvalidConfigError } from '../errors.js';
import { packageVersion } from '../package-version.js';

/** Extensions compiled before import; `.js`, `.mjs` and `.cjs` topologies load as they are. */
const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);
const LOADERS: Record<string, Loader> = { '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.tsx': 'tsx', '.js': 'js', '.mjs': 'js', '.cjs': 'js', '.jsx': 'jsx' };
const IMPORT_META = /\bimport\.meta\.(url|filename|dirname)\b/g;
const BUILTINS = new Set(builtinModules);

/** Whether `file` is TypeScript, which {@link compileTopology} compiles before it is imported. */
export function isTypeScript(file: string): boolean {
  return TYPESCRIPT.has(extname(file));
}

/** What a compiled topology was made from: when each of these files is as it was, the output is reused. */
interface Manifest {
  readonly output: string;
  readonly inputs: readonly { readonly path: string; readonly mtimeMs: number; readonly size: number }[];
}

/**
 * Compiles a TypeScript topology and the local modules it imports into one ES module (esbuild)
 * and returns its file URL to import. Why not a loader hook (tsx): on Node 20 hooks run in a
 * thread of their own that every later import passes through, ~40 MiB and ~150 ms at start
 * (docs/bench.md, start-up); the compiled module loads like a `.js` topology.
 *
 * What stays as it was: packages (bare specifiers) are not bundled but imported by the absolute
 * URL they resolve to from the topology's folder, with Node's conditions plus the process's
 * `--conditions`, so the topology shares one copy of sluice, rxjs and the rest with the CLI;
 * `import.meta.url`, `.filename` and `.dirname` are each source file's own; error stack traces
 * point at the `.ts` lines (inline source map, `process.setSourceMapsEnabled`); class and
 * function names are kept. What differs: `import.meta.resolve` and `import()` of a computed
 * path resolve from the compiled file.
 *
 * The output is kept under the OS temp folder (`sluice-topologies-<uid>/`, private to the user)
 * with a manifest of every file it was made from (sources, the tsconfig.json beside them, each
 * package file it imports, by modification time and size): the next start that finds them all
 * unchanged imports it without loading esbuild (~80 ms less).
 *
 * @throws InvalidConfigError naming the file, line and esbuild's message when it does not compile.
 */
export async function compileTopology(file: string): Promise<string> {
  const conditions = processConditions();
  const dir = await cacheDir();
  const key = createHash('sha256')
    .update(JSON.stringify([file, conditions, process.versions.node, packageVersion()]))
    .digest('hex')
    .slice(0, 16);
  const manifestPath = join(dir, `${basename(file, extname(file))}-${key}.json`);
  let output = await reusable(manifestPath);
  if (output === undefined) {
    const { code, inputs } = await compile(file, dir, conditions);
    output = join(dir, `${basename(file, extname(file))}-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
    await writeWhole(output, code);
    const manifest: Manifest = { output, inputs: await Promise.all(inputs.map(async (path) => ({ path, ...(await stamp(path)) }))) };
    await writeWhole(manifestPath, JSON.stringify(manifest));
  }
  process.setSourceMapsEnabled(true);
  return pathToFileURL(output).href;
}

async function compile(file: string, dir: string, conditions: string[]): Promise<{ code: string; inputs: string[] }> {
  const esbuild = await import('esbuild');
  const packages = new Set<string>();
  try {
    const result = await esbuild.build({
      entryPoints: [file],
      // Not written: placed in `dir` so the source map's relative paths lead back to the sources.
      outfile: join(dir, `${basename(file, extname(file))}.mjs`),
      absWorkingDir: dirname(file),
      write: false,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: `node${process.versions.node}`,
      conditions,
      mainFields: ['main'],
      keepNames: true,
      sourcemap: 'inline',
      sourcesContent: false,
      metafile: true,
      logLevel: 'silent',
      plugins: [packagesByUrl(packages), ownImportMeta()],
    });
    const sources = Object.keys(result.metafile.inputs).map((p) => resolve(dirname(file), p));
    const tsconfigs = [...new Set(sources.map((p) => nearest(dirname(p), 'tsconfig.json')))].filter((p) => p !== undefined);
    return { code: result.outputFiles[0]!.text, inputs: [...sources, ...tsconfigs, ...packages] };
  } catch (err) {
    const errors = (err as { errors?: Message[] }).errors;
    if (errors === undefined) throw err;
    throw new InvalidConfigError('sluice run', 'file', `${file} does not compile: ${errors.map(formatMessage).join('; ')}`, { cause: err });
  } finally {
    await esbuild.stop();
  }
}

/** The compiled output a manifest names, when every file it was made from is unchanged; else undefined. */
async function reusable(manifestPath: string): Promise<string | undefined> {
  try {
    const m = JSON.parse(await readFile(manifestPath, 'utf8')) as Manifest;
    const now = await Promise.all([m.output, ...m.inputs.map((i) => i.path)].map(stamp));
    const same = m.inputs.every((i, n) => now[n + 1]!.mtimeMs === i.mtimeMs && now[n + 1]!.size === i.size);
    return same ? m.output : undefined;
  } catch {
    return undefined; // No manifest, a file gone, or a manifest from an older format: compile.
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
