import { execFileSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, logMessages, spawnCli, type CliResult } from './run-cli.js';

// `npm start` is the README's set-up command: hybrid-orders with its demo driver, a live summary
// per part, exit 0 whether or not nats-server is installed.
const PART = (name: string) => new RegExp(`^hybrid-orders \\d+s \\| ${name} +in (?<in>[\\d,]+) \\(\\d+/s\\) out (?<out>[\\d,]+)(?<rest>.*)$`, 'gm');
const ENDED = /^sluice: hybrid-orders stopped at --duration-ms, drained after [\d.]+ s$/m;

/** The numbers of the last summary line of `part`. */
function lastSummary(log: string, part: string): { in: number; out: number; rest: string } {
  const lines = [...log.matchAll(PART(part))];
  expect(lines.length, `no summary line for ${part} in:\n${log}`).toBeGreaterThan(0);
  const g = lines.at(-1)!.groups!;
  return { in: Number(g.in!.replaceAll(',', '')), out: Number(g.out!.replaceAll(',', '')), rest: g.rest! };
}

function expectCleanRun(result: CliResult): string {
  expect(result.code, result.stderr).toBe(0);
  const log = logMessages(result.stderr);
  expect(log).toMatch(ENDED);
  expect(log).toMatch(/^sluice: hybrid-orders-demo stopped at --duration-ms, drained/m);
  expect(log).toMatch(/drained in \d+ ms: \d+ inputs settled, .*nothing left unsettled/);
  expect(lastSummary(log, 'stream SHOP_ORDERS').in).toBeGreaterThan(0);
  return log;
}

// The summary every 500 ms, so short runs show it; the demo starts publishing after 1 s.
const SHORT = { SLUICE_DURATION_MS: '2500', SLUICE_SUMMARY_EVERY_MS: '500' };
const npm = (env: NodeJS.ProcessEnv) => spawnCli('npm', ['start', '--silent'], env).result;

describe('npm start', () => {
  it(
    'runs every part of hybrid-orders on an embedded nats-server from PATH, with a summary per part, and removes its store and state',
    { timeout: 90_000 },
    async () => {
      // 11 s: the demo's carrier file comes at 6 s and its end of day at 9 s.
      const result = await npm(cleanEnv({ SLUICE_DURATION_MS: '11000', SLUICE_SUMMARY_EVERY_MS: '1000', PATH: `${process.env.PATH}:/usr/sbin` }));
      const log = expectCleanRun(result);
      const banner = /on embedded nats-server nats:\/\/127\.0\.0\.1:\d+ \(JetStream store (\S+), removed at exit\), state (\S+) \(removed at exit\)/.exec(log);
      expect(banner, result.stderr).not.toBeNull();
      expect(existsSync(banner![1]!)).toBe(false);
      expect(existsSync(banner![2]!)).toBe(false);
      expect(result.stderr).not.toMatch(/durability is OFF/);
      // Each part did its work: status events, analytics batches, the carrier import (one bad line), the preference sync.
      const actor = lastSummary(log, 'actor order-status');
      expect(actor.out).toBeGreaterThan(0);
      expect(actor.rest).toMatch(/\| batches [\d,]+ \(last \d+\) \| actors [\d,]+ \| unsettled \d+ \| outbox \d+ \| dlq 0$/);
      expect(lastSummary(log, 'sink analytics.orders.batch').out).toBeGreaterThan(0);
      expect(log).toMatch(/^hybrid-orders-demo 6s \| carrier file deliveries-0001\.ndjson received: \d+ deliveries and 1 bad line$/m);
      const imported = lastSummary(log, 'sink carrier-import');
      expect(imported.out).toBeGreaterThan(0);
      expect(lastSummary(log, 'stream OPS \\(ops\\.files\\.received\\)').in).toBe(1);
      // The run ends with its totals: the carrier's bad line is its one dead letter; the imported updates went out.
      expect(log).toMatch(/^hybrid-orders done \d+s \| total in [\d,]+ \([\d,]+\/s\) out [\d,]+ \| dlq 1 \| .*shop\.order-updates\.delivered [\d,]+ \(\d+%\)/m);
      const batch = lastSummary(log, 'durable-batch nightly-preferences');
      expect(batch.rest).toMatch(/^ \| batches 1 \(last \d+\) \| open \d+ \| outbox 0 \| dlq 0$/);
      expect(batch.out).toBe(1);
    },
  );

  it('falls back to the in-process transport when SLUICE_NATS_SERVER_BIN names no binary, saying so once', { timeout: 60_000 }, async () => {
    const result = await npm(cleanEnv({ ...SHORT, SLUICE_NATS_SERVER_BIN: '/nonexistent/nats-server', SLUICE_REQUIRE_NATS: undefined }));
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
      const env = cleanEnv({ ...SHORT, PATH: bin, SLUICE_REQUIRE_NATS: undefined });
      const result = await spawnCli(join(bin, 'npm'), ['start', '--silent'], env).result;
      expectCleanRun(result);
      expect(result.stderr).toMatch(/nats-server not found.*durability is OFF/);
    });

    it('refuses to fall back when SLUICE_REQUIRE_NATS=1 (as in CI): a missing broker is a failure', { timeout: 60_000 }, async () => {
      const env = cleanEnv({ ...SHORT, PATH: bin, SLUICE_REQUIRE_NATS: '1' });
      const result = await spawnCli(join(bin, 'npm'), ['start', '--silent'], env).result;
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/SLUICE_REQUIRE_NATS=1 forbids the in-process fallback/);
      expect(logMessages(result.stderr)).not.toMatch(PART('stream SHOP_ORDERS'));
    });
  });
});
