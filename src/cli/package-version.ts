import { readFileSync } from 'node:fs';

/** The `version` of Sluice's package.json, read once at start (no JSON import attributes needed). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}
