import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidConfigError } from '../errors.js';
import { isTopology, type Topology } from '../runtime/define-topology.js';
import { compileTopology, isTypeScript } from './compile-topology.js';

/**
 * Imports a topology module (`.js`, or `.ts` compiled first: {@link compileTopology}) and picks
 * its topology: the export named `exportName`, else the default export, else the only named
 * export that is a topology.
 *
 * @throws InvalidConfigError naming the file and what it exports when no single topology is found.
 */
export async function loadTopology(file: string, exportName?: string): Promise<Topology> {
  const path = resolve(file);
  try {
    await access(path);
  } catch {
    throw new InvalidConfigError('sluice run', 'file', `'${file}' does not exist (resolved to ${path})`);
  }
  // bin/sluice.js (this repository's sources) has a TypeScript loader registered already.
  const url = isTypeScript(path) && !hasTypeScriptLoader() ? await compileTopology(path) : pathToFileURL(path).href;
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
