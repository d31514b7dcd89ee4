import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { ROOT, sluice } from './run-cli.js';

it('sluice --version (and -V) prints the package version on stdout and exits 0', { timeout: 30_000 }, async () => {
  const { version } = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string };
  expect(version).toMatch(/^\d+\.\d+\.\d+/);
  for (const flag of ['--version', '-V']) {
    const result = await sluice([flag]).result;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${version}\n`);
  }
});
