import { afterEach, describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { readStream } from '../../helpers/read-stream.js';
import { until } from '../../helpers/until.js';
import { REPLAY_CHUNK } from '../../../src/cli/dlq-command.js';
import { cleanEnv, sluice, spawnCli, type CliRun } from './run-cli.js';

const FIXTURE = 'test/src/cli/fixtures/dead-letter-topology.ts';
const running: CliRun[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    r.kill('SIGTERM');
    await r.result;
  }
});

/** Runs the fixture topology as `sluice run` and waits until it is up. */
async function startTopology(url: string, name: string, extra: string[] = []): Promise<CliRun> {
  const run = sluice(['run', FIXTURE, '--nats', url, ...extra], cleanEnv({ DLQ_TOPOLOGY: name }));
  running.push(run);
  await run.waitFor(/sluice: running/);
  return run;
}

describe('sluice dlq list|show|replay (child processes, real nats-server)', () => {
  const server = useNatsServer();

  it('lists with filters, shows a record, replays exactly once with the record named, and parks what fails again', { timeout: 90_000 }, async () => {
    const name = uniqueName('dlqcli').replace(/_/g, '-');
    const stream = `${name.toUpperCase().replace(/-/g, '_')}_IN`;
    await startTopology(server().url, name, ['--allow-control']);
    const client = await NatsTransport.connect({ servers: server().url });
    try {
      for (const n of [1, 2, 3]) await client.publishDurable(`${name}.in`, msgpackCodec.encode(n));
      await client.publishDurable(`${name}.in`, new Uint8Array([0xc1])); // undecodable
      await until(async () => (await client.streamState(`SLUICE_DLQ_${name}`).catch(() => ({ messages: 0 }))).messages === 3, { what: 'three dead letters' });

      const dlq = (...args: string[]) => sluice(['dlq', ...args, name, '--nats', server().url]).result;
      const listed = await dlq('list', '--json');
      expect(listed.code, listed.stderr).toBe(0);
      expect(JSON.parse(listed.stdout)).toMatchObject({
        stream: `SLUICE_DLQ_${name}`,
        entries: [
          { seq: 1, status: 'dead', subject: `${name}.in`, operator: 'check:odd', error: { name: 'TerminalError', message: 'odd: 1' }, stream, streamSeq: 1 },
          { seq: 2, status: 'dead', error: { message: 'odd: 3' }, streamSeq: 3 },
          { seq: 3, status: 'dead', error: { name: 'DecodeError' }, streamSeq: 4 },
        ],
      });
      const table = await dlq('list', '--reason', 'decode', '--since', '1h');
      expect(table.code, table.stderr).toBe(0);
      expect(table.stdout).toMatch(/^SEQ\s+STATUS\s+FAILED AT\s+SUBJECT\s+OPERATOR\s+ERROR$/m);
      expect(table.stdout).toMatch(new RegExp(`^3\\s+dead\\s+\\S+Z\\s+${name}\\.in\\s+`, 'm'));
      expect(table.stdout).toMatch(/^1 shown, 1 matching, 3 messages in SLUICE_DLQ_/m);
      expect(JSON.parse((await dlq('list', '--json', '--until', '2000-01-01T00:00:00Z')).stdout).entries).toEqual([]);

      const shown = await sluice(['dlq', 'show', name, '2', '--nats', server().url]).result;
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toMatch(/^error\s+TerminalError: odd: 3$/m);
      expect(shown.stdout).toMatch(new RegExp(`^from\\s+${stream}/3$`, 'm'));

      // Replay the two odd ones: each goes back to the input stream once, naming its record.
      const replayed = await dlq('replay', '--reason', 'odd', '--json');
      expect(replayed.code, replayed.stderr).toBe(0);
      expect(JSON.parse(replayed.stdout)).toMatchObject({
        replayed: 2,
        skipped: 0,
        failed: [],
        records: [
          { seq: 1, attempt: 1, to: { stream, seq: 5, duplicate: false } },
          { seq: 2, attempt: 1, to: { stream, seq: 6 } },
        ],
      });
      const input = await readStream(client, stream);
      expect(
        input.slice(4).map((m) => [msgpackCodec.decode(m.data), m.headers['Sluice-Replay-Of'], m.headers['Sluice-Replay-Attempt'], m.headers['Nats-Msg-Id']]),
      ).toEqual([
        [1, `SLUICE_DLQ_${name}/1`, '1', `sluice-replay:SLUICE_DLQ_${name}:1`],
        [3, `SLUICE_DLQ_${name}/2`, '1', `sluice-replay:SLUICE_DLQ_${name}:2`],
      ]);
      // Still odd: both come back parked; replaying everything again replays only the undecodable one, then nothing.
      await until(async () => JSON.parse((await dlq('list', '--json', '--status', 'parked')).stdout).entries.length === 2, { what: 'two parked records' });
      const all = await dlq('replay');
      expect(all.code, all.stderr).toBe(0);
      expect(all.stdout).toMatch(/^replayed 1, skipped 4 \(already replayed or parked\), failed 0/m);
      await until(async () => JSON.parse((await dlq('list', '--json', '--status', 'dead')).stdout).entries.length === 0, { what: 'no plain dead record left' });
      const again = await dlq('replay', '--json');
      expect(JSON.parse(again.stdout)).toMatchObject({ replayed: 0 });
      const parked = await dlq('replay', '--parked', '--json', '--reason', 'odd: 3');
      expect(JSON.parse(parked.stdout)).toMatchObject({ replayed: 1, records: [{ attempt: 2 }] });
    } finally {
      await client.close();
    }
  });

  it('exit codes: usage 2, topology not running 3, replay not enabled 4, unknown record 1', { timeout: 60_000 }, async () => {
    const name = uniqueName('dlqexit').replace(/_/g, '-');
    const noServer = await sluice(['dlq', 'list', name]).result;
    expect([noServer.code, noServer.stderr]).toEqual([2, 'sluice: sluice dlq needs the NATS system the topology runs on: give --nats <url> or set NATS_URL\n']);
    expect((await sluice(['dlq', 'list', name, '--nats', server().url, '--since', 'yesterday']).result).code).toBe(2);
    const absent = await sluice(['dlq', 'list', name, '--nats', server().url, '--timeout-ms', '1000']).result;
    expect(absent.code).toBe(3);
    expect(absent.stderr).toMatch(/^sluice: topology '.*' did not answer on sluice\.svc\..*\.dead-letters .*is it running/);
    await startTopology(server().url, name);
    const refused = await sluice(['dlq', 'replay', name, '--nats', server().url]).result;
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/^sluice: .*replay is disabled .*--allow-control .*\(403\)\n$/);
    const missing = await sluice(['dlq', 'show', name, '99', '--nats', server().url]).result;
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no dead-letter record at seq 99 .*\(404\)/);
  });

  it('replays many records in chunks of REPLAY_CHUNK, each once; a bar only on a terminal, one summary otherwise', { timeout: 120_000 }, async () => {
    const name = uniqueName('dlqbar').replace(/_/g, '-');
    const stream = `${name.toUpperCase().replace(/-/g, '_')}_IN`;
    await startTopology(server().url, name, ['--allow-control']);
    const client = await NatsTransport.connect({ servers: server().url });
    try {
      const COUNT = 2 * REPLAY_CHUNK + 50;
      await Promise.all(Array.from({ length: COUNT }, (_, i) => client.publishDurable(`${name}.in`, msgpackCodec.encode(2 * i + 1))));
      await until(async () => (await client.streamState(`SLUICE_DLQ_${name}`).catch(() => ({ messages: 0 }))).messages === COUNT, {
        what: `${COUNT} dead letters`,
      });

      // Not a terminal (a pipe): no bar, the summary of all chunks.
      const piped = await sluice(['dlq', 'replay', name, '--nats', server().url]).result;
      expect(piped.code, piped.stderr).toBe(0);
      expect(piped.stderr).toBe('');
      expect(piped.stdout).not.toMatch(/[\u2588\u2591]|replaying \[/);
      expect(piped.stdout).toMatch(new RegExp(`^replayed ${COUNT}, skipped 0 \\(already replayed or parked\\), failed 0; continue from seq \\d+$`, 'm'));
      const replays = (await readStream(client, stream)).slice(COUNT).map((m) => m.headers['Sluice-Replay-Of']);
      expect(replays).toHaveLength(COUNT);
      expect(new Set(replays)).toEqual(new Set(Array.from({ length: COUNT }, (_, i) => `SLUICE_DLQ_${name}/${i + 1}`)));

      // On a terminal (script(1) gives the child a pty): a bar while replaying parked records, a limit honoured across chunks.
      await until(
        async () => JSON.parse((await sluice(['dlq', 'list', name, '--nats', server().url, '--json', '--status', 'parked']).result).stdout).matched === COUNT,
        { what: 'all parked' },
      );
      const tty = await spawnCli(
        'script',
        ['-qec', `${process.execPath} bin/sluice.js dlq replay ${name} --nats ${server().url} --parked --limit 150`, '/dev/null'],
        cleanEnv(),
      ).result;
      expect(tty.code, tty.stdout).toBe(0);
      expect(tty.stdout).toMatch(/replaying \[[\u2588\u2591]+\] \d+\/150 records/);
      expect(tty.stdout).toMatch(/replayed 150, skipped \d+ \(already replayed or parked\), failed 0/);
      // --json: no bar, one document for every chunk, the limit honoured across two chunks.
      const json = await sluice(['dlq', 'replay', name, '--nats', server().url, '--parked', '--json', '--limit', '120']).result;
      expect(json.stderr).toBe('');
      const body = JSON.parse(json.stdout) as { replayed: number; records: Array<{ seq: number }> };
      expect([body.replayed, new Set(body.records.map((r) => r.seq)).size]).toEqual([120, 120]);
    } finally {
      await client.close();
    }
  });
});
