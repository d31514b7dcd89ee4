import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const run = promisify(execFile);

/** Runs `body` as an ES module in a fresh Node (rxjs not loaded yet), with preloadRxjsBundle imported; prints what it returns. */
async function inFreshNode(body: string): Promise<unknown> {
  const script = `import { createRequire } from 'node:module';
import { preloadRxjsBundle } from ${JSON.stringify(pathToFileURL(resolve(ROOT, 'src/cli/preload-rxjs-bundle.ts')).href)};
const require = createRequire(${JSON.stringify(pathToFileURL(resolve(ROOT, 'package.json')).href)});
const umd = () => require(${JSON.stringify(resolve(ROOT, 'node_modules/rxjs/dist/bundles/rxjs.umd.js'))});
console.log(JSON.stringify(await (async () => { ${body} })()));`;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  return JSON.parse(stdout);
}

describe('preloadRxjsBundle', () => {
  it("makes require and import of rxjs's entry points (rxjs, rxjs/operators, rxjs/testing, ...) return the one-file bundle", async () => {
    const result = await inFreshNode(`
      preloadRxjsBundle(import.meta.url);
      const u = umd();
      const esm = await import('rxjs');
      const ops = await import('rxjs/operators');
      return {
        require: require('rxjs').Observable === u.Observable,
        import: esm.Observable === u.Observable && esm.map === u.map,
        operators: ops.map === u.operators.map && require('rxjs/operators').mergeMap === u.operators.mergeMap,
        testing: require('rxjs/testing').TestScheduler === u.testing.TestScheduler,
        ajax: require('rxjs/ajax').ajax === u.ajax.ajax,
        fetch: require('rxjs/fetch').fromFetch === u.fetch.fromFetch,
        webSocket: require('rxjs/webSocket').webSocket === u.webSocket.webSocket,
        rootHasNoSubpaths: require('rxjs').operators === undefined,
      };`);
    expect(result).toEqual({ require: true, import: true, operators: true, testing: true, ajax: true, fetch: true, webSocket: true, rootHasNoSubpaths: true });
  });

  it("exports the same names as rxjs's CommonJS build, entry by entry (the check an rxjs upgrade must pass)", async () => {
    const entries = ['rxjs', 'rxjs/operators', 'rxjs/testing', 'rxjs/ajax', 'rxjs/fetch', 'rxjs/webSocket'];
    const body = `return Object.fromEntries(${JSON.stringify(entries)}.map((e) => [e, Object.keys(require(e)).sort()]));`;
    const commonJs = await inFreshNode(body);
    const bundled = await inFreshNode(`preloadRxjsBundle(import.meta.url); ${body}`);
    expect(bundled).toEqual(commonJs);
    expect((commonJs as Record<string, string[]>).rxjs!.length).toBeGreaterThan(150);
  });

  it('leaves rxjs as it is when it was loaded before', async () => {
    const result = await inFreshNode(`
      const before = require('rxjs');
      preloadRxjsBundle(import.meta.url);
      return { same: require('rxjs') === before, bundled: require('rxjs').Observable === umd().Observable };`);
    expect(result).toEqual({ same: true, bundled: false });
  });
});
