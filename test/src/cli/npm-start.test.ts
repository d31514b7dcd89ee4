import { execFileSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, logMessages, spawnCli, type CliResult } from './run-cli.js';

// `npm start` is the README's set-up command: it must show the live summary and exit 0 whether
// or not nats-server is installed.
const SUMMARY = /^order-routing \d+s \| generated \d+\/s, in \d+\/s -> priority \d+\/s, standard \d+\/s \| dlq 0 \| totals in \d+/m;
const DONE = /^order-routing done \| generated (?<generated>\d+), in (?<in>\d+), priority (?<priority>\d+) \(\d+%\), standard (?<standard>\d+), dead letters 0$/m;

function expectCleanRun(result: CliResult): void {
  expect(result.code, result.stderr).toBe(0);
  const log = logMessages(result.stderr);
  expect(log).toMatch(SUMMARY);
  const done = DONE.exec(log);
  expect(done, log).not.toBeNull();
  // Drained: every order received was routed.
  expect(Number(done!.groups!.priority) + Number(done!.groups!.standard)).toBe(Number(done!.groups!.in));
  expect(Number(done!.groups!.in)).toBeGreaterThan(0);
  // Drained: everything generated was received before the sources completed.
  expect(Number(done!.groups!.in)).toBe(Number(done!.groups!.generated));
}

const npm = (env: NodeJS.ProcessEnv) => spawnCli('npm', ['start', '--silent'], env).result;

describe('npm start', () => {
  it('runs order-routing on an embedded nats-server from PATH and removes its store', { timeout: 60_000 }, async () => {
    const result = await npm(cleanEnv({ SLUICE_DURATION_MS: '1500', PATH: `${process.env.PATH}:/usr/sbin` }));
    expectCleanRun(result);
    const banner = /on embedded nats-server nats:\/\/127\.0\.0\.1:\d+ \(JetStream store (\S+), removed at exit\)/.exec(logMessages(result.stderr));
    expect(banner, result.stderr).not.toBeNull();
    expect(existsSync(banner![1]!)).toBe(false);
    expect(result.stderr).not.toMatch(/durability is OFF/);
  });

  it('falls back to the in-process transport when SLUICE_NATS_SERVER_BIN names no binary, saying so once', { timeout: 60_000 }, async () => {
    const result = await npm(cleanEnv({ SLUICE_DURATION_MS: '1500', SLUICE_NATS_SERVER_BIN: '/nonexistent/nats-server', SLUICE_REQUIRE_NATS: undefined }));
    expectCleanRun(result);
    expect(logMessages(result.stderr)).toMatch(/on in-process transport \(durability off\)/);
    expect(result.stderr.match(/durability is OFF/g)).toHaveLength(1);
  });

  describe('with PATH stripped down to node, npm and sh', () => {
    let bin: string;
    beforeAll(async () => {
      bin = await mkdtemp(join(tmpdir(), 'sluice-path-'));
      await symlink(process.execPath, join(bin, 'node'));
      await symlink(realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim()), join(bin, 'npm'));
      await symlink('/bin/sh', join(bin, 'sh')); // npm runs scripts with sh
      expect(existsSync(join(bin, 'nats-server'))).toBe(false);
    });
    afterAll(async () => {
      await rm(bin, { recursive: true, force: true });
    });

    it('falls back to the in-process transport and exits 0', { timeout: 60_000 }, async () => {
      const env = cleanEnv({ SLUICE_DURATION_MS: '1500', PATH: bin, SLUICE_REQUIRE_NATS: undefined });
      const result = await spawnCli(join(bin, 'npm'), ['start', '--silent'], env).result;
      expectCleanRun(result);
      expect(result.stderr).toMatch(/nats-server not found.*durability is OFF/);
    });

    it('refuses to fall back when SLUICE_REQUIRE_NATS=1 (as in CI): a missing broker is a failure', { timeout: 60_000 }, async () => {
      const env = cleanEnv({ SLUICE_DURATION_MS: '1500', PATH: bin, SLUICE_REQUIRE_NATS: '1' });
      const result = await spawnCli(join(bin, 'npm'), ['start', '--silent'], env).result;
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/SLUICE_REQUIRE_NATS=1 forbids the in-process fallback/);
      expect(logMessages(result.stderr)).not.toMatch(SUMMARY);
    });
  });
});
