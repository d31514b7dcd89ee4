import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidConfigError } from '../errors.js';
import { isTopology, type Topology } from '../runtime/define-topology.js';
import { compileTopologies, isTypeScript } from './compile-topologies.js';

/**
 * Imports a topology module (`.js`, or `.ts` compiled first: {@link compileTopologies}) and picks
 * its topology: the export named `exportName`, else the default export, else the only named
 * export that is a topology.
 *
 * @throws InvalidConfigError naming the file and what it exports when no single topology is found.
 */
export async function loadTopology(file: string, exportName?: string): Promise<Topology> {
  return (await loadTopologies([file], exportName))[0]!;
}

/**
 * {@link loadTopology} for several files, in order; their TypeScript is compiled together, so a
 * local module two of them import is one module.
 */
export async function loadTopologies(files: readonly string[], exportName?: string): Promise<Topology[]> {
  const paths = files.map((f) => resolve(f));
  for (const [i, path] of paths.entries()) {
    try {
      await access(path);
    } catch {
      throw new InvalidConfigError('sluice run', 'file', `'${files[i]}' does not exist (resolved to ${path})`);
    }
  }
  // bin/sluice.js (this repository's sources) has a TypeScript loader registered already.
  const typescript = hasTypeScriptLoader() ? [] : [...new Set(paths.filter(isTypeScript))];
  const compiled = typescript.length > 0 ? await compileTopologies(typescript) : [];
  const topologies: Topology[] = [];
  for (const [i, path] of paths.entries()) {
    const at = typescript.indexOf(path);
    topologies.push(await pick(files[i]!, at >= 0 ? compiled[at]! : pathToFileURL(path).href, exportName));
  }
  return topologies;
}

async function pick(file: string, url: string, exportName: string | undefined): Promise<Topology> {
  const mod = (await import(url)) as Record<string, unknown>;
  if (exportName !== undefined) {
    const chosen = mod[exportName];
    if (isTopology(chosen)) return chosen;
    throw new InvalidConfigError('sluice run', '--export', `'${exportName}' of ${file} is not a topology made by defineTopology`);
  }
  if (isTopology(mod.default)) return mod.default;
  const named = Object.entries(mod).filter(([, v]) => isTopology(v));
  if (named.length === 1) return named[0]![1] as Topology;
  const detail =
    named.length === 0
      ? 'exports no topology: export one made by defineTopology (default export preferred)'
      : `exports several topologies (${named.map(([n]) => n).join(', ')}): choose one with --export <name>`;
  throw new InvalidConfigError('sluice run', 'file', `${file} ${detail}`);
}

/** Set by whoever registered a TypeScript loader for this process (bin/sluice.js): `.ts` then imports as it is. */
function hasTypeScriptLoader(): boolean {
  return (globalThis as Record<symbol, unknown>)[Symbol.for('sluice.typescript-loader')] === true;
}
