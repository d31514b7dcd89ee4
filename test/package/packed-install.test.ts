import { execFile } from 'node:child_process';
import { access, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

/**
 * The environment of a user's shell: without the `sluice-source` condition the test run sets
 * (the tarball has no sources) and without the variables `npm test` sets for its own package.
 */
function userEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && !k.startsWith('npm_')));
}

const TOPOLOGY = (name: string) => `import { defineTopology } from 'sluice';

// Core NATS in, the same payload out (the package's smallest topology).
export default defineTopology('${name}', (t) => t.source('user.in').pipe(t.sink('user.out')));
`;

// A .ts topology as users write them (tsc style: a local module imported as './checks.js'); its
// name says whether what the compile step keeps was kept (compile-topology.ts): each file's own
// import.meta.url, and the user's rxjs being the one sluice's operators build on.
const TS_TOPOLOGY = `import { defineTopology } from 'sluice';
import { checks } from './checks.js';

const here: string = import.meta.url;
export default defineTopology(checks(here), (t) => t.source('user.in').pipe(t.sink('user.out')));
`;

const TS_CHECKS = `import { Observable, of } from 'rxjs';
import { microBatch } from 'sluice/operators';

export function checks(topologyUrl: string): string {
  const failed = [
    topologyUrl.endsWith('/user-topology.ts') ? '' : 'topology-url',
    import.meta.url.endsWith('/checks.ts') ? '' : 'checks-url',
    of(1).pipe(microBatch({ maxCount: 2, maxWaitMs: 10 })) instanceof Observable ? '' : 'rxjs-identity',
  ].filter(Boolean);
  return failed.length === 0 ? 'user-ts' : \`user-ts-\${failed.join('-')}\`;
}
`;

const TYPED = `import type { Envelope } from 'sluice';
import { startExactlyOnce, type ExactlyOnceConfig } from 'sluice/engine';
import { TerminalError } from 'sluice/errors';
import { microBatch } from 'sluice/operators';
import { ManualClock } from 'sluice/testing';

// The test hooks are stripped from the published types (stripInternal).
// @ts-expect-error faults is internal
const hook: ExactlyOnceConfig['faults'] = undefined;
const parts = [startExactlyOnce, TerminalError, hook];

const batch = microBatch<{ n: number }>({ maxCount: 10, maxWaitMs: 100 });
const clock: ManualClock | undefined = undefined;
const first = (e: Envelope<{ n: number }>): number => e.data.n;
export { batch, clock, first, parts };
`;

// One copy of the runtime through every entry point, and the user's rxjs is the one sluice uses:
// dist/ is bundled with shared chunks and rxjs left external (scripts/build.js).
const IDENTITY = `import { lastValueFrom, Observable, of, toArray } from 'rxjs';
import * as sluice from 'sluice';
import * as errors from 'sluice/errors';
import * as operators from 'sluice/operators';
import * as testing from 'sluice/testing';

const batched = of(1, 2, 3).pipe(operators.microBatch({ maxCount: 2, maxWaitMs: 1000 }));
console.log(JSON.stringify({
  sameErrors: sluice.TransportError === errors.TransportError && testing.TopologyFailedError === errors.TopologyFailedError,
  operatorErrorClass: (() => {
    try {
      operators.microBatch({ maxCount: -1, maxWaitMs: 1000 });
    } catch (err) {
      return err instanceof errors.InvalidConfigError && err instanceof sluice.InvalidConfigError;
    }
  })(),
  userObservable: batched instanceof Observable,
  batches: await lastValueFrom(batched.pipe(toArray())),
}));
`;

describe('the packed package', () => {
  const dir = useTempDir('packed');

  it('installs from its tarball and runs a .ts and a .js topology with the installed sluice command', async () => {
    const env = userEnv();
    // `npm pack` builds dist/ first (the prepare script) and packs what package.json `files` lists.
    const { stdout: packed } = await run('npm', ['pack', '--json', '--pack-destination', dir()], { cwd: ROOT, env, timeout: 120_000 });
    const [{ filename, files }] = JSON.parse(packed.slice(packed.indexOf('['))) as [{ filename: string; files: { path: string }[] }];
    const paths = files.map((f) => f.path);
    expect(paths).toContain('dist/src/cli/bin.js');
    expect(paths).toContain('dist/src/index.d.ts');
    // Bundled JavaScript: entry points and shared chunks; every other module has only its .d.ts.
    expect(paths.some((p) => p.startsWith('dist/chunks/'))).toBe(true);
    expect(paths.filter((p) => p.startsWith('dist/src/runtime/') && p.endsWith('.js'))).toEqual([]);
    expect(paths.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts'))).toEqual([]);
    expect(paths.filter((p) => p.startsWith('test/') || p.startsWith('bench/'))).toEqual([]);

    const project = join(dir(), 'project');
    await run('mkdir', [project]);
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }));
    // From npm's cache (this machine installed the same versions); the registry only when one is missing.
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir(), filename)], { cwd: project, env, timeout: 120_000 });
    await expect(access(join(project, 'node_modules', 'vega'))).rejects.toThrow();

    await writeFile(join(project, 'user-topology.ts'), TS_TOPOLOGY);
    await writeFile(join(project, 'checks.ts'), TS_CHECKS);
    await writeFile(join(project, 'user-topology.js'), TOPOLOGY('user-js'));
    await writeFile(join(project, 'typed.ts'), TYPED);
    const sluice = join(project, 'node_modules', '.bin', 'sluice');

    for (const [file, name] of [
      ['user-topology.ts', 'user-ts'],
      ['user-topology.js', 'user-js'],
    ] as const) {
      const { stderr } = await run(sluice, ['run', file, '--duration-ms', '500', '--log-format', 'json'], { cwd: project, env, timeout: 30_000 });
      expect(stderr).toContain(`sluice: running ${name} on `);
      expect(stderr).toContain(`sluice: ${name} stopped at --duration-ms, drained`);
    }

    await writeFile(join(project, 'identity.mjs'), IDENTITY);
    const { stdout: identity } = await run(process.execPath, ['identity.mjs'], { cwd: project, env, timeout: 30_000 });
    expect(JSON.parse(identity)).toEqual({ sameErrors: true, operatorErrorClass: true, userObservable: true, batches: [[1, 2], [3]] });

    // The .d.ts files give a user's TypeScript the package's types (its tsc, strict, as a user sets it up).
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: [] },
        include: ['*.ts'],
      }),
    );
    const tsc = run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { cwd: project, env, timeout: 60_000 });
    await expect(tsc.catch((err: unknown) => Promise.reject(new Error(`tsc: ${(err as { stdout?: string }).stdout ?? String(err)}`)))).resolves.toBeDefined();
    expect(await readdir(join(project, 'node_modules', 'sluice'))).not.toContain('src');
  }, 240_000);
});
