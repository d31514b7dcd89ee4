// `npm run build`: the package's dist/. tsc writes the .d.ts files (the published types, one per
// source module); esbuild writes the JavaScript as one file per entry point (package.json
// `exports` and the `sluice` command) plus shared chunks in dist/chunks, so a start loads a few
// dozen files instead of ~150 (issue 14: start-up time, docs/bench.md).
//
// Module identity: code splitting puts every source module in exactly one output file, so the
// command and a topology's `import 'sluice'`, `'sluice/operators'`, ... share one copy of the
// runtime's state and classes. Packages a user also imports or hands to sluice stay external
// (their one installed copy): rxjs (Observables cross the API both ways; rxjs/testing's virtual
// time patches the copy it belongs to; loaded by CJS_BY_REQUIRE), the NATS client (`new NatsTransport(nc)` takes the user's
// connection, and the client's own error checks are `instanceof`), zod, OpenTelemetry, lmdb
// (native) and the rest. Only packages no API exposes are bundled: pino (the runtime's default
// logger; a user's logger is used through its methods) and commander (the command line).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'dist');
/** Runtime dependencies bundled into dist/ rather than loaded from node_modules (see above). */
export const BUNDLED = ['pino', 'commander'];
/** Every entry point of the package: its `exports`, and the `sluice` command. */
export const ENTRIES = ['src/index.ts', 'operators/index.ts', 'src/testing/index.ts', 'src/entry/engine.ts', 'src/entry/errors.ts', 'src/cli/bin.ts'];

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const external = Object.keys(pkg.dependencies).filter((d) => !BUNDLED.includes(d));

/**
 * CommonJS packages through `require`, not `import`: the same module (Node's require cache) as a
 * topology's own `import`, without Node's ESM wrapper around each, whose export scan and
 * translation cost a start ~20 ms for rxjs's index (when the topology does not import rxjs) and
 * ~13 ms for the NATS client's packages (bench/startup.bench.ts, docs/bench.md). These are
 * CommonJS and nothing else, so `require` and `import` give one copy. msgpackr is the exception:
 * a dual package whose `require` build is one file where `import` loads six (~11 ms). Sluice's use
 * of it is private (its own Packr and Unpackr; no API takes or returns msgpackr objects), so a
 * topology that imports msgpackr itself gets a second copy: memory, not behaviour.
 */
export const BY_REQUIRE = ['rxjs', '@nats-io/nats-core', '@nats-io/jetstream', '@nats-io/services', '@nats-io/transport-node', 'msgpackr'];
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const CJS_BY_REQUIRE = {
  name: 'cjs-by-require',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^(${BY_REQUIRE.map(escape).join('|')})$`) }, (args) => ({ path: args.path, namespace: 'cjs-by-require' }));
    b.onLoad({ filter: /.*/, namespace: 'cjs-by-require' }, (args) => {
      const names = Object.keys(createRequire(import.meta.url)(args.path)).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n) && n !== 'default');
      return {
        contents: `import { createRequire } from 'node:module';\nexport const { ${names.join(', ')} } = createRequire(import.meta.url)(${JSON.stringify(args.path)});\n`,
        loader: 'js',
        resolveDir: ROOT,
      };
    });
  },
};

rmSync(OUT, { recursive: true, force: true });
execFileSync(process.execPath, [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
const { outputFiles } = await build({
  absWorkingDir: ROOT,
  entryPoints: ENTRIES,
  outdir: OUT,
  outbase: '.',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  // `name` and its subpaths (`rxjs/operators`, `@nats-io/jetstream/jsm`) load from node_modules.
  external: external.flatMap((d) => [d, `${d}/*`]),
  // Function and class names as written (not renamed where two modules use the same name).
  keepNames: true,
  plugins: [CJS_BY_REQUIRE],
  write: false,
  logLevel: 'warning',
});
// The bundled CommonJS packages call require() (esbuild's `__require`) for Node's built-ins: the
// files that hold them get a `require` of their own.
const REQUIRE = "import { createRequire as __sluiceCreateRequire } from 'node:module';\nconst require = __sluiceCreateRequire(import.meta.url);\n";
for (const file of outputFiles) {
  let text = file.text;
  if (/\b__require\b/.test(text)) text = text.startsWith('#!') ? text.replace(/\n/, `\n${REQUIRE}`) : REQUIRE + text;
  mkdirSync(dirname(file.path), { recursive: true });
  writeFileSync(file.path, text);
}
