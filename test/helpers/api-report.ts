/**
 * The API report: every export of the package's entry points, with its kind (and a function's
 * signature), written to docs/api-report.md. test/exports.test.ts fails when the checked-in report
 * differs from this one, so a change to the public types shows up as a diff in review.
 *
 * It also lists "unexported types": types of this repository that an exported declaration names
 * (a parameter, a return type, a field, a base class) but no entry point exports, so a user could
 * not name them. The report must have none.
 *
 * Regenerate: `npm run api-report` (node --conditions=sluice-source --import tsx test/helpers/api-report.ts --write)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';

export const ROOT = resolve(import.meta.dirname, '../..');
export const REPORT_PATH = join(ROOT, 'docs/api-report.md');
export const REGENERATE = 'npm run api-report';

/** The package's entry points (package.json `exports`) and their source files. */
export const ENTRY_POINTS: Readonly<Record<string, string>> = {
  sluice: 'src/index.ts',
  'sluice/operators': 'operators/index.ts',
  'sluice/testing': 'src/testing/index.ts',
  'sluice/engine': 'src/entry/engine.ts',
  'sluice/errors': 'src/entry/errors.ts',
};

export interface ApiExport {
  readonly name: string;
  /** `class`, `function`, `const`, `interface`, `type`, `enum`, `namespace`. */
  readonly kind: string;
  /** Exported as a value (usable at run time), not only as a type. */
  readonly value: boolean;
  readonly signature?: string | undefined;
}

export interface ApiModel {
  readonly entries: Readonly<Record<string, readonly ApiExport[]>>;
  /** Types of this repository a user meets through an exported value but cannot import, sorted. */
  readonly unexported: readonly string[];
  /** Exported types no exported value leads to (candidates to drop), sorted. */
  readonly unneeded: readonly string[];
}

function kindOf(symbol: ts.Symbol): string {
  const f = symbol.flags;
  if (f & ts.SymbolFlags.Class) return 'class';
  if (f & ts.SymbolFlags.Function) return 'function';
  if (f & ts.SymbolFlags.Enum) return 'enum';
  if (f & ts.SymbolFlags.Variable) return 'const';
  if (f & ts.SymbolFlags.Interface) return 'interface';
  if (f & ts.SymbolFlags.TypeAlias) return 'type';
  if (f & ts.SymbolFlags.Module) return 'namespace';
  return 'other';
}

function isTypeOnlyExport(alias: ts.Symbol): boolean {
  return (alias.declarations ?? []).some((d) => ts.isExportSpecifier(d) && (d.isTypeOnly || d.parent.parent.isTypeOnly));
}

function isInternal(node: ts.Node): boolean {
  return ts.getJSDocTags(node).some((t) => t.tagName.text === 'internal');
}

function isHidden(member: ts.Node): boolean {
  if (isInternal(member)) return true;
  const mods = ts.canHaveModifiers(member) ? (ts.getModifiers(member) ?? []) : [];
  if (mods.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword)) return true;
  const name = (member as { name?: ts.Node }).name;
  return name !== undefined && ts.isPrivateIdentifier(name);
}

/** The type nodes of a declaration a user sees: not function bodies, initialisers or private members. */
type TypeUse = ts.TypeReferenceNode | ts.ExpressionWithTypeArguments | ts.TypeQueryNode;

function typeNodesOf(decl: ts.Node, out: TypeUse[]): void {
  const visit = (node: ts.Node): void => {
    if (ts.isBlock(node)) return;
    if (
      (ts.isPropertyDeclaration(node) ||
        ts.isPropertySignature(node) ||
        ts.isMethodDeclaration(node) ||
        ts.isMethodSignature(node) ||
        ts.isGetAccessor(node) ||
        ts.isConstructorDeclaration(node)) &&
      isHidden(node)
    )
      return;
    if (ts.isParameter(node) && isHidden(node)) return;
    if (ts.isVariableDeclaration(node)) {
      if (node.type !== undefined) visit(node.type);
      return;
    }
    if (ts.isPropertyDeclaration(node)) {
      if (node.type !== undefined) visit(node.type);
      return;
    }
    if (ts.isTypeReferenceNode(node) || ts.isExpressionWithTypeArguments(node) || ts.isTypeQueryNode(node)) out.push(node);
    ts.forEachChild(node, visit);
  };
  visit(decl);
}

/** Builds the model of the package's public API from the sources. */
export function apiModel(): ApiModel {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  if (config === undefined) throw new Error('api-report: cannot read tsconfig.json');
  const files = Object.values(ENTRY_POINTS).map((f) => join(ROOT, f));
  const program = ts.createProgram(files, { ...config.options, noEmit: true });
  const checker = program.getTypeChecker();
  const resolveAlias = (s: ts.Symbol): ts.Symbol => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);

  const entries: Record<string, ApiExport[]> = {};
  const exported = new Set<ts.Symbol>();
  const roots: { entry: string; name: string; alias: ts.Symbol; symbol: ts.Symbol }[] = [];
  for (const [entry, file] of Object.entries(ENTRY_POINTS)) {
    const source = program.getSourceFile(join(ROOT, file));
    const moduleSymbol = source && checker.getSymbolAtLocation(source);
    if (moduleSymbol === undefined) throw new Error(`api-report: no module for ${file}`);
    const list: ApiExport[] = [];
    for (const alias of checker.getExportsOfModule(moduleSymbol)) {
      const symbol = resolveAlias(alias);
      exported.add(symbol);
      roots.push({ entry, name: alias.name, alias, symbol });
      const typeOnly = isTypeOnlyExport(alias);
      const value = !typeOnly && (symbol.flags & ts.SymbolFlags.Value) !== 0;
      const kind = kindOf(symbol);
      let signature: string | undefined;
      if (value && kind === 'const') {
        const decl = symbol.declarations?.[0];
        if (decl !== undefined) signature = checker.typeToString(checker.getTypeOfSymbolAtLocation(symbol, decl), undefined, ts.TypeFormatFlags.NoTruncation);
      }
      if (value && kind === 'function') {
        const decl = symbol.declarations?.[0];
        const type = decl && checker.getTypeOfSymbolAtLocation(symbol, decl);
        signature =
          type &&
          checker
            .getSignaturesOfType(type, ts.SignatureKind.Call)
            .map((s) => checker.signatureToString(s, undefined, ts.TypeFormatFlags.NoTruncation))
            .join('; ');
      }
      list.push({ name: alias.name, kind: value || kind === 'interface' || kind === 'type' ? kind : `type (${kind})`, value, signature });
    }
    entries[entry] = list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  const inRepo = (d: ts.Declaration): boolean => {
    const path = relative(ROOT, d.getSourceFile().fileName);
    return path.startsWith('src/') || path.startsWith('operators/');
  };
  // The repository's types a user meets through the exported values, followed transitively.
  const reachable = new Map<ts.Symbol, string>();
  const queue: { symbol: ts.Symbol; via: string }[] = [];
  const meet = (target: ts.Symbol | undefined, via: string): void => {
    if (target === undefined) return;
    const resolved = resolveAlias(target);
    if (resolved.flags & ts.SymbolFlags.TypeParameter || resolved.name.startsWith('__') || reachable.has(resolved)) return;
    if (!(resolved.declarations ?? []).some(inRepo)) return;
    reachable.set(resolved, via);
    queue.push({ symbol: resolved, via });
  };
  const meetType = (type: ts.Type, via: string, depth = 0): void => {
    if (depth > 3) return;
    meet(type.aliasSymbol ?? type.getSymbol(), via);
    for (const arg of type.aliasTypeArguments ?? checker.getTypeArguments(type as ts.TypeReference) ?? []) meetType(arg, via, depth + 1);
    if (type.isUnionOrIntersection()) for (const t of type.types) meetType(t, via, depth + 1);
  };
  const valueRoots = roots.filter((r) => (r.symbol.flags & ts.SymbolFlags.Value) !== 0 && !isTypeOnlyExport(r.alias));
  for (const r of valueRoots) queue.push({ symbol: r.symbol, via: `${r.name} in ${r.entry}` });
  while (queue.length > 0) {
    const { symbol, via } = queue.shift()!;
    for (const decl of symbol.declarations ?? []) {
      if (!inRepo(decl)) continue;
      const nodes: TypeUse[] = [];
      typeNodesOf(decl, nodes);
      for (const node of nodes) {
        const at = ts.isTypeReferenceNode(node) ? node.typeName : ts.isTypeQueryNode(node) ? node.exprName : node.expression;
        meet(checker.getSymbolAtLocation(ts.isQualifiedName(at) ? at.left : at), via);
      }
      // What the compiler infers where the source has no annotation.
      if (
        (ts.isVariableDeclaration(decl) && decl.type === undefined) ||
        ((ts.isFunctionDeclaration(decl) || ts.isMethodDeclaration(decl)) && decl.type === undefined)
      ) {
        const type = checker.getTypeAtLocation(decl);
        if (ts.isVariableDeclaration(decl)) meetType(type, via);
        for (const sig of type.getCallSignatures()) meetType(sig.getReturnType(), via);
      }
    }
  }
  const unexported = new Set<string>();
  for (const [symbol, via] of reachable) if (!exported.has(symbol)) unexported.add(`${symbol.name} (through ${via})`);
  const unneeded = roots
    .filter((r) => isTypeOnlyExport(r.alias) || (r.symbol.flags & ts.SymbolFlags.Value) === 0)
    .filter((r) => !reachable.has(r.symbol))
    .map((r) => `${r.name} in ${r.entry}`);
  return { entries, unexported: [...unexported].sort(), unneeded: unneeded.sort() };
}

/** The report's Markdown text. */
export function formatApiReport(model: ApiModel): string {
  const lines = [
    '# API report',
    '',
    `Generated by test/helpers/api-report.ts from the entry points' sources; do not edit. Regenerate`,
    `with \`${REGENERATE}\`; test/exports.test.ts fails while this file is out of date.`,
    '',
    '| entry point | values | types |',
    '| --- | ---: | ---: |',
  ];
  for (const [entry, list] of Object.entries(model.entries)) {
    lines.push(`| \`${entry}\` | ${list.filter((e) => e.value).length} | ${list.filter((e) => !e.value).length} |`);
  }
  for (const [entry, list] of Object.entries(model.entries)) {
    lines.push('', `## ${entry}`, '', '### Values', '');
    for (const e of list.filter((x) => x.value)) lines.push(`- ${e.kind} \`${e.name}\`${e.signature !== undefined ? `: \`${e.signature}\`` : ''}`);
    lines.push('', '### Types', '');
    for (const e of list.filter((x) => !x.value)) lines.push(`- ${e.kind} \`${e.name}\``);
  }
  lines.push('', '## Unexported types', '', 'Types an export names that no entry point exports (a user cannot name them):', '');
  lines.push(...(model.unexported.length === 0 ? ['none'] : model.unexported.map((u) => `- ${u}`)));
  lines.push('', '## Types no value leads to', '', 'Exported on purpose: payloads a user decodes from a subject or a service reply.', '');
  lines.push(...(model.unneeded.length === 0 ? ['none'] : model.unneeded.map((u) => `- ${u}`)));
  return `${lines.join('\n')}\n`;
}

export function readCheckedInReport(): string {
  return readFileSync(REPORT_PATH, 'utf8');
}

if (process.argv.includes('--write')) {
  const model = apiModel();
  writeFileSync(REPORT_PATH, formatApiReport(model));
  const counts = Object.entries(model.entries).map(([e, l]) => `${e}: ${l.filter((x) => x.value).length} values, ${l.filter((x) => !x.value).length} types`);
  for (const u of model.unneeded) console.log(`  not needed: ${u}`);
  console.log(`wrote ${relative(ROOT, REPORT_PATH)}\n${counts.join('\n')}\nunexported types: ${model.unexported.length}`);
  for (const u of model.unexported) console.log(`  ${u}`);
}
