import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Frame = NodeJS.CallSite;

/**
 * Maps the stack frames that run in compiled topologies (files under `folder`, each with a
 * `.map` beside it) back to their `.ts` lines, reading a file's source map only when a stack
 * first passes through it. Node's own switch, `process.setSourceMapsEnabled(true)`, parses the
 * map of each module as it loads (~2.4 MiB and ~4 ms of the demo's start, issue 14), though most
 * runs never write a stack through the topology.
 *
 * It wraps whatever `Error.prepareStackTrace` is in place (Node 20's own default, or a user's),
 * handing it call sites whose file, line, column and text are the `.ts` ones; other frames pass
 * unchanged. With source maps already on (`--enable-source-maps`) it does nothing: Node maps
 * through the same `.map` files.
 */
export function mapCompiledStacks(folder: string): void {
  const previous = Reflect.get(Error, 'prepareStackTrace') as (((error: Error, frames: Frame[]) => unknown) & { sluiceFolders?: Set<string> }) | undefined;
  if (previous?.sluiceFolders !== undefined) {
    previous.sluiceFolders.add(pathToFileURL(folder).href + '/');
    return;
  }
  if ((process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled === true) return;
  const folders = new Set([pathToFileURL(folder).href + '/']);
  const maps = new Map<string, SourceMap | undefined>();
  const mapOf = (url: string): SourceMap | undefined => {
    if (!maps.has(url)) {
      let map: SourceMap | undefined;
      try {
        map = new SourceMap(JSON.parse(readFileSync(fileURLToPath(`${url}.map`), 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
      } catch {
        map = undefined; // no map (or an unreadable one): the frame stays as it is
      }
      maps.set(url, map);
    }
    return maps.get(url);
  };
  const mapped = (site: Frame): Frame => {
    const url = site.getFileName();
    const line = site.getLineNumber();
    const column = site.getColumnNumber();
    if (url === undefined || url === null || line === null || column === null || ![...folders].some((f) => url.startsWith(f))) return site;
    // Node 20's findEntry gives {} for a position the map does not cover.
    const entry: Partial<{ originalSource: string; originalLine: number; originalColumn: number }> | undefined = mapOf(url)?.findEntry(line - 1, column - 1);
    if (entry?.originalSource === undefined || entry.originalLine === undefined || entry.originalColumn === undefined) return site;
    const file = fileURLToPath(entry.originalSource.startsWith('file:') ? entry.originalSource : new URL(entry.originalSource, url).href);
    const at = `${url}:${line}:${column}`;
    const text = (site as { toString(): string }).toString();
    const i = text.lastIndexOf(at);
    const overrides: Partial<Record<keyof Frame | 'toString', () => unknown>> = {
      getFileName: () => file,
      getScriptNameOrSourceURL: () => file,
      getLineNumber: () => entry.originalLine! + 1,
      getColumnNumber: () => entry.originalColumn! + 1,
      toString: () => (i < 0 ? text : `${text.slice(0, i)}${file}:${entry.originalLine! + 1}:${entry.originalColumn! + 1}${text.slice(i + at.length)}`),
    };
    // CallSite methods check their receiver: the rest are called on the real one.
    return new Proxy(site, {
      get: (target, key) => {
        const own = overrides[key as keyof Frame | 'toString'];
        if (own !== undefined) return own;
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  };
  const prepare = (error: Error, frames: Frame[]): unknown => {
    const sites = frames.map(mapped);
    if (previous !== undefined) return previous(error, sites);
    let header: string;
    try {
      header = Error.prototype.toString.call(error);
    } catch {
      header = '<error>';
    }
    return header + sites.map((f) => `\n    at ${(f as { toString(): string }).toString()}`).join('');
  };
  Error.prepareStackTrace = Object.assign(prepare, { sluiceFolders: folders });
}
