import { describe, expect, it } from 'vitest';
import { startTestNatsServer, useNatsServer } from '../../helpers/nats-server.js';
import { sluice } from './run-cli.js';

// One log, one shape: what `sluice run` prints goes to stderr through the one logger, as JSON
// lines (the default off a terminal) or as readable lines (`--log-format pretty`), never both.
describe('sluice run --log-format', () => {
  const server = useNatsServer();

  it('json: every line of stderr is a JSON object, the banner and summaries included; stdout is empty', { timeout: 60_000 }, async () => {
    const result = await sluice(['run', 'topologies/low-stock.ts', '--nats', server().url, '--duration-ms', '500', '--log-format', 'json']).result;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    const entries = lines.map((line) => JSON.parse(line) as { msg: string; level: number });
    expect(entries.some((e) => /^sluice: low-stock stopped at --duration-ms, drained after [\d.]+ s$/.test(e.msg))).toBe(true);
    expect(entries.some((e) => e.msg.startsWith(`sluice: running low-stock on nats ${server().url}`))).toBe(true);
  });

  it('pretty: every line reads "[hh:mm:ss] LEVEL: message", an error stays on its line; stdout is empty', { timeout: 60_000 }, async () => {
    const ok = await sluice(['run', 'topologies/low-stock.ts', '--nats', server().url, '--duration-ms', '500', '--log-format', 'pretty']).result;
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('');
    const lines = ok.stderr.trimEnd().split('\n');
    for (const line of lines) expect(line).toMatch(/^\[\d\d:\d\d:\d\d\] (INFO|WARN|ERROR|FATAL|DEBUG): /);
    expect(lines.some((l) => l.includes(`INFO: sluice: running low-stock on nats ${server().url}`))).toBe(true);
    const failed = await sluice(['run', 'topologies/nope.ts', '--log-format', 'pretty']).result;
    expect(failed.code).toBe(1);
    expect(failed.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^\[\d\d:\d\d:\d\d\] FATAL: could not run the topology \{"error":"InvalidConfigError: .*'topologies\/nope\.ts' does not exist/),
    ]);
  });

  it('pretty: a password stays out of the log', { timeout: 60_000 }, async () => {
    const secure = await startTestNatsServer({ config: { authorization: { user: 'bob', password: 'pretty-pw-77' } } });
    try {
      const refused = await sluice([
        'run',
        'topologies/low-stock.ts',
        '--nats',
        secure.url.replace('nats://', 'nats://bob:pretty-pw-78@'),
        '--log-format',
        'pretty',
        '--log-level',
        'trace',
      ]).result;
      expect(refused.code).toBe(1);
      expect(refused.stdout + refused.stderr).not.toContain('pretty-pw-7');
    } finally {
      await secure.dispose();
    }
  });
});
