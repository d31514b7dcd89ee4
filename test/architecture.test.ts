import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The layering of ARCHITECTURE.md, enforced: every import in src/ and operators/ (type-only and
 * dynamic ones too) goes to its own layer or one listed below it, the broker client and LMDB stay
 * in their folders, and no files import each other in a cycle. The few exceptions are listed
 * with their reason; the lead wants that list short, so fix the code before adding to it.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Layers, lowest first; a layer may import itself and the layers it names (ARCHITECTURE.md's table). */
const LAYERS: ReadonlyArray<{ layer: string; mayImport: readonly string[] }> = [
  { layer: 'src/errors.ts', mayImport: [] },
  { layer: 'src/package-version.ts', mayImport: [] },
  // The one logger type and the one retry policy: used by every layer, like the errors.
  { layer: 'src/logger.ts', mayImport: [] },
  { layer: 'src/retry', mayImport: ['src/errors.ts'] },
  { layer: 'src/envelope', mayImport: ['src/errors.ts', 'src/logger.ts', 'src/retry'] },
  { layer: 'src/schema', mayImport: ['src/errors.ts', 'src/logger.ts', 'src/retry'] },
  { layer: 'src/codec', mayImport: ['src/envelope', 'src/errors.ts', 'src/logger.ts', 'src/retry'] },
  { layer: 'src/state', mayImport: ['src/errors.ts', 'src/logger.ts', 'src/retry'] },
  { layer: 'src/transport', mayImport: ['src/envelope', 'src/errors.ts', 'src/logger.ts', 'src/retry'] },
  { layer: 'src/transport/nats', mayImport: ['src/transport', 'src/envelope', 'src/errors.ts', 'src/logger.ts', 'src/retry'] },
  { layer: 'src/transport/local', mayImport: ['src/transport', 'src/envelope', 'src/errors.ts', 'src/logger.ts', 'src/retry'] },
  { layer: 'src/settle', mayImport: ['src/state', 'src/errors.ts', 'src/logger.ts', 'src/retry'] },
  { layer: 'src/dead-letter', mayImport: ['src/transport', 'src/codec', 'src/envelope', 'src/errors.ts', 'src/logger.ts', 'src/retry'] },
  { layer: 'src/trace', mayImport: ['src/settle', 'src/envelope', 'src/package-version.ts', 'src/errors.ts', 'src/logger.ts', 'src/retry'] },
  { layer: 'src/ingest', mayImport: ['src/transport', 'src/envelope', 'src/errors.ts', 'src/logger.ts', 'src/retry'] },
  { layer: 'src/observe', mayImport: ['src/transport', 'src/schema', 'src/errors.ts', 'src/logger.ts', 'src/retry'] },
  {
    layer: 'operators',
    mayImport: [
      'src/observe',
      'src/settle',
      'src/dead-letter',
      'src/state',
      'src/transport',
      'src/codec',
      'src/schema',
      'src/envelope',
      'src/errors.ts',
      'src/logger.ts',
      'src/retry',
    ],
  },
  {
    layer: 'src/exactly-once',
    mayImport: [
      'operators',
      'src/observe',
      'src/settle',
      'src/dead-letter',
      'src/state',
      'src/transport',
      'src/codec',
      'src/schema',
      'src/envelope',
      'src/errors.ts',
      'src/logger.ts',
      'src/retry',
    ],
  },
  {
    layer: 'src/actors',
    mayImport: [
      'src/exactly-once',
      'src/observe',
      'src/settle',
      'src/dead-letter',
      'src/state',
      'src/transport',
      'src/codec',
      'src/schema',
      'src/envelope',
      'src/errors.ts',
      'src/logger.ts',
      'src/retry',
    ],
  },
  { layer: 'src/runtime', mayImport: ['*', '!src/testing', '!src/cli', '!src/ingest', '!src/index.ts'] },
  { layer: 'src/testing', mayImport: ['*', '!src/cli', '!src/ingest', '!src/index.ts'] },
  { layer: 'src/cli', mayImport: ['*', '!src/testing', '!src/index.ts'] },
  { layer: 'src/index.ts', mayImport: ['*', '!src/cli'] },
  // The package's other entry points (sluice/engine, sluice/errors): re-exports, like src/index.ts.
  { layer: 'src/entry', mayImport: ['*', '!src/cli', '!src/index.ts'] },
];

/** Packages only one folder may import: all broker I/O behind the Transport, all LMDB in src/state. */
const OWNED_PACKAGES: ReadonlyArray<{ prefix: string; owner: string }> = [
  { prefix: '@nats-io/', owner: 'src/transport' },
  { prefix: 'lmdb', owner: 'src/state' },
];

/** Imports the rules above refuse but the code still makes, each with its reason. Keep it short. */
const ALLOWED: ReadonlyArray<{ from: RegExp; to: RegExp; reason: string }> = [
  { from: /^src\/envelope\/unique-id\.ts$/, to: /^@nats-io\/nats-core$/, reason: 'nuid for envelope ids: an id generator, no broker I/O' },
  {
    from: /^src\/runtime\/embedded-server-auth\.ts$/,
    to: /^@nats-io\/nats-core$/,
    reason: "nkeys.fromSeed for the embedded server's config: key parsing, no broker I/O",
  },
];

interface Edge {
  readonly from: string;
  /** A repository path (`src/x/y.ts`) or a package name. */
  readonly to: string;
  readonly typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every import of one file, as written: static, `export ... from`, `import('...')` (as a value or a type). */
function specifiersOf(file: string, text: string): Array<{ specifier: string; typeOnly: boolean }> {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const found: Array<{ specifier: string; typeOnly: boolean }> = [];
  const add = (specifier: string, typeOnly: boolean): void => void found.push({ specifier, typeOnly });
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier.text, typeOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node.argument.literal.text, true);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] !== undefined &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      add(node.arguments[0].text, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Every import of one file, resolved: a repository path (`src/x/y.ts`) or a package name. */
function importsOf(file: string, text: string): Edge[] {
  return specifiersOf(file, text).map(({ specifier, typeOnly }) => ({
    from: file,
    to: specifier.startsWith('.') ? normalize(join(dirname(file), specifier)).replace(/\.js$/, '.ts') : packageOf(specifier),
    typeOnly,
  }));
}

function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/** The layer a repository file belongs to: the longest LAYERS entry that contains it. */
function layerOf(path: string): string | undefined {
  let best: string | undefined;
  for (const { layer } of LAYERS) {
    if ((path === layer || path.startsWith(`${layer}/`)) && (best === undefined || layer.length > best.length)) best = layer;
  }
  return best;
}

function mayImport(from: string, to: string): boolean {
  if (from === to) return true;
  const rule = LAYERS.find((l) => l.layer === from);
  if (rule === undefined) return false;
  if (rule.mayImport.includes('*')) return !rule.mayImport.includes(`!${to}`);
  return rule.mayImport.includes(to);
}

/** Imports that break a layer rule or a package's owner, as `from -> to` lines. */
function layerViolations(edges: readonly Edge[]): string[] {
  const bad: string[] = [];
  for (const e of edges) {
    const fromLayer = layerOf(e.from);
    if (fromLayer === undefined) {
      bad.push(`${e.from}: in no layer (add it to LAYERS and ARCHITECTURE.md)`);
      continue;
    }
    if (ALLOWED.some((a) => a.from.test(e.from) && a.to.test(e.to))) continue;
    const local = e.to.startsWith('src/') || e.to.startsWith('operators/');
    if (local) {
      const toLayer = layerOf(e.to);
      if (toLayer === undefined || !mayImport(fromLayer, toLayer)) bad.push(`${e.from} -> ${e.to} (${fromLayer} may not import ${toLayer ?? e.to})`);
    } else {
      const owned = OWNED_PACKAGES.find((p) => e.to.startsWith(p.prefix));
      if (owned !== undefined && fromLayer !== owned.owner && !fromLayer.startsWith(`${owned.owner}/`))
        bad.push(`${e.from} -> ${e.to} (only ${owned.owner} imports ${owned.prefix})`);
    }
  }
  return bad;
}

/** Every set of files that import each other in a cycle (Tarjan's strongly connected components), each as `a -> b -> ... -> a`. */
function importCycles(edges: readonly Edge[]): string[] {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    if (!e.to.endsWith('.ts')) continue;
    next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  }
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[] = [];
  const connect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      const self = (next.get(v) ?? []).includes(v);
      if (component.length > 1 || self) cycles.push([...component.reverse(), component[0]].join(' -> '));
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) connect(v);
  return cycles;
}

function repositoryEdges(): Edge[] {
  return ['src', 'operators'].flatMap(sourceFiles).flatMap((f) => importsOf(f, readFileSync(join(ROOT, f), 'utf8')));
}

/** What a file in topologies/ may import: the package's entry points for users, and the two libraries its API is made of. */
const TOPOLOGY_IMPORTS: readonly string[] = ['sluice', 'sluice/operators', 'sluice/testing', 'rxjs', 'zod'];

/**
 * What breaks "example topologies are model code" (issue 14): a file in topologies/ importing
 * anything but {@link TOPOLOGY_IMPORTS} and the payload schemas beside it (`./<name>-schemas.js`)
 * — no `../src`, no `node:` module, no demo or test code — or a topology file (not a schemas file)
 * that does not export its `SUBJECTS` and exactly one default export, its topology.
 */
function topologyViolations(files: ReadonlyArray<{ file: string; text: string }>): string[] {
  const bad: string[] = [];
  for (const { file, text } of files) {
    for (const { specifier } of specifiersOf(file, text)) {
      if (!TOPOLOGY_IMPORTS.includes(specifier) && !/^\.\/[a-z0-9-]+-schemas\.js$/.test(specifier))
        bad.push(`${file} -> ${specifier} (a topology imports only ${TOPOLOGY_IMPORTS.join(', ')} and ./<name>-schemas.js)`);
    }
    if (file.endsWith('-schemas.ts')) continue;
    if (!/^export const SUBJECTS = /m.test(text)) bad.push(`${file}: exports no SUBJECTS`);
    const defaults = text.match(/^export default /gm)?.length ?? 0;
    if (defaults !== 1) bad.push(`${file}: ${defaults} default exports (one: the topology)`);
  }
  return bad;
}

function topologyFiles(): Array<{ file: string; text: string }> {
  return sourceFiles('topologies').map((file) => ({ file, text: readFileSync(join(ROOT, file), 'utf8') }));
}

describe('architecture (ARCHITECTURE.md)', () => {
  const edges = repositoryEdges();

  it('finds the imports it checks (a scanner that sees nothing passes everything)', () => {
    expect(edges.length).toBeGreaterThan(500);
    expect(edges).toContainEqual({ from: 'src/transport/nats/nats-transport.ts', to: '@nats-io/jetstream', typeOnly: false });
    expect(edges).toContainEqual({ from: 'src/runtime/types.ts', to: 'src/transport/transport.ts', typeOnly: true });
  });

  it('every import goes to its own layer or one below it; @nats-io only in src/transport, lmdb only in src/state', () => {
    expect(layerViolations(edges)).toEqual([]);
  });

  it('no import cycle between files, type-only imports included', () => {
    expect(importCycles(edges)).toEqual([]);
  });

  it('every exception still matches an import (a stale one goes)', () => {
    const unused = ALLOWED.filter((a) => !edges.some((e) => a.from.test(e.from) && a.to.test(e.to))).map((a) => a.reason);
    expect(unused).toEqual([]);
  });

  it('the checks catch what they claim: an upward import, a foreign @nats-io import, a cycle', () => {
    const made = (from: string, to: string, typeOnly = false): Edge => ({ from, to, typeOnly });
    expect(layerViolations([made('src/state/x.ts', 'operators/y.ts')])).toHaveLength(1);
    expect(layerViolations([made('src/transport/transport.ts', 'src/transport/nats/nats-transport.ts')])).toHaveLength(1);
    expect(layerViolations([made('src/dead-letter/x.ts', 'src/transport/local/local-transport.ts')])).toHaveLength(1);
    expect(layerViolations([made('src/cli/x.ts', '@nats-io/nats-core')])).toHaveLength(1);
    expect(layerViolations([made('src/runtime/x.ts', 'lmdb')])).toHaveLength(1);
    expect(layerViolations([made('src/runtime/x.ts', 'operators/y.ts'), made('src/transport/nats/a.ts', '@nats-io/jetstream')])).toEqual([]);
    expect(importCycles([made('a.ts', 'b.ts', true), made('b.ts', 'c.ts'), made('c.ts', 'a.ts')])).toEqual(['a.ts -> b.ts -> c.ts -> a.ts']);
    expect(importCycles([made('a.ts', 'b.ts'), made('b.ts', 'c.ts')])).toEqual([]);
  });

  it('reads type-only, re-export and dynamic imports', () => {
    const text = [
      "import type { A } from './a.js';",
      "import { type B } from '../b.js';",
      "import { c, type C } from './c.js';",
      "export { d } from './d.js';",
      "const e = await import('./e.js');",
      "let f: import('./f.js').F;",
      "import { connect } from '@nats-io/transport-node';",
    ].join('\n');
    expect(importsOf('src/x/y.ts', text)).toEqual([
      { from: 'src/x/y.ts', to: 'src/x/a.ts', typeOnly: true },
      { from: 'src/x/y.ts', to: 'src/b.ts', typeOnly: true },
      { from: 'src/x/y.ts', to: 'src/x/c.ts', typeOnly: false },
      { from: 'src/x/y.ts', to: 'src/x/d.ts', typeOnly: false },
      { from: 'src/x/y.ts', to: 'src/x/e.ts', typeOnly: false },
      { from: 'src/x/y.ts', to: 'src/x/f.ts', typeOnly: true },
      { from: 'src/x/y.ts', to: '@nats-io/transport-node', typeOnly: false },
    ]);
  });

  it('example topologies are model code: they import only the package (and rxjs, zod) and their schemas, and export their SUBJECTS and one topology', async () => {
    const files = topologyFiles();
    expect(files.filter((f) => !f.file.endsWith('-schemas.ts')).length).toBeGreaterThanOrEqual(9);
    expect(topologyViolations(files)).toEqual([]);
    for (const { file } of files.filter((f) => !f.file.endsWith('-schemas.ts'))) {
      const topology = ((await import(join(ROOT, file))) as { default: { name?: unknown; build?: unknown } }).default;
      expect([file, typeof topology.name, typeof topology.build]).toEqual([file, 'string', 'function']);
    }
  });

  it('the topology check catches what it claims: a source import, a node: module, a demo import, no SUBJECTS, two defaults', () => {
    const topology = (
      imports: string,
      rest = "export const SUBJECTS = {};\nexport default defineTopology('x', () => []);",
    ): { file: string; text: string } => ({
      file: 'topologies/x.ts',
      text: `${imports}\n${rest}`,
    });
    expect(
      topologyViolations([
        topology("import { defineTopology } from 'sluice';\nimport { route } from 'sluice/operators';\nimport { X } from './x-schemas.js';"),
      ]),
    ).toEqual([]);
    expect(topologyViolations([topology("import { defineTopology } from '../src/index.js';")])).toHaveLength(1);
    expect(topologyViolations([topology("import { join } from 'node:path';")])).toHaveLength(1);
    expect(topologyViolations([topology("import { createOrderGenerator } from '../demo/order-generator.js';")])).toHaveLength(1);
    expect(topologyViolations([topology("import { engine } from 'sluice/engine';")])).toHaveLength(1);
    expect(topologyViolations([topology('', "export default defineTopology('x', () => []);")])).toEqual(['topologies/x.ts: exports no SUBJECTS']);
    expect(topologyViolations([topology('', 'export const SUBJECTS = {};\nexport default a;\nexport default b;')])).toHaveLength(1);
    expect(topologyViolations([{ file: 'topologies/x-schemas.ts', text: "import { z } from 'zod';" }])).toEqual([]);
  });

  it('ARCHITECTURE.md lists every layer', () => {
    const doc = readFileSync(join(ROOT, 'ARCHITECTURE.md'), 'utf8');
    const missing = LAYERS.map((l) => l.layer).filter((layer) => !doc.includes(`\`${layer}\``));
    expect(missing).toEqual([]);
  });
});
