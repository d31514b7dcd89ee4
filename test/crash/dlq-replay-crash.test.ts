import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { msgpackCodec, NatsTransport, readDeadLetters, runTopology } from '../../src/index.js';
import { REPLAY_HEADERS } from '../../src/dead-letter/dead-letter-record.js';
import { deadLetterStreamName, deadLetterSubject, REPLAYED_PART } from '../../src/dead-letter/dead-letter-subject.js';
import type { ReplayMarker } from '../../src/dead-letter/read-dead-letters.js';
import { uniqueName, useNatsServer } from '../helpers/nats-server.js';
import { readStream } from '../helpers/read-stream.js';
import { until } from '../helpers/until.js';
import { cleanEnv, sluice, type CliRun } from '../src/cli/run-cli.js';
import { crashSeed, mulberry32 } from './crash-child.js';
import { dlqReplayTopology, goodBeforeFix, inputStreamOf, type ReplayInput } from './topologies/dlq-replay.js';

/*
 * `sluice dlq replay` under real crashes. A buggy build dead-letters 500 of 550 inputs; then the
 * fixed build runs as `sluice run --allow-control` (the process that replays: the CLI only asks
 * its service endpoint, 100 records a request) and `sluice dlq replay` is run against it. The
 * topology is SIGKILLed twice at seeded random points of the replay (after a random number of
 * replays reached the stream, so between a re-publish and its marker or anywhere else), restarted
 * and the replay run again each time, until a run completes. Then every record is in the input
 * stream exactly once (counted by the input id its payload carries and by `Sluice-Replay-Of`), and
 * marked replayed exactly once, its marker naming that message. Reproduce with SLUICE_CRASH_SEED=<seed>.
 */

const server = useNatsServer();
const FIXTURE = 'test/crash/topologies/dlq-replay.ts';
const INPUTS = 550;
const KILLS = 2;
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

describe('dead-letter replay under real crashes (SIGKILL of the replaying topology)', () => {
  it('500 records, 2 SIGKILLs mid-replay: each record in the target stream once and marked replayed once', { timeout: 120_000 }, async () => {
    const startedAt = Date.now();
    const seed = crashSeed();
    const rnd = mulberry32(seed);
    const url = server().url;
    const name = uniqueName('dlqcrash').replace(/_/g, '-');
    const stream = inputStreamOf(name);
    const dlqStream = deadLetterStreamName(name);
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-dlq-crash-'));
    const env = cleanEnv({ DLQ_TOPOLOGY: name, SLUICE_STATE_DIR: stateDir });
    const client = await NatsTransport.connect({ servers: url });
    const children: CliRun[] = [];
    const timeline: string[] = [];
    // Distinct records re-published so far, and every re-publish seen (a re-run after a crash publishes some again).
    const replayedOf = new Set<string>();
    let republishes = 0;
    const sub = client.subscribe(`${name}.in`).subscribe((e) => {
      const of = e.headers[REPLAY_HEADERS.of];
      if (of === undefined) return;
      replayedOf.add(of);
      republishes += 1;
    });
    try {
      // The buggy build, in this process: 500 dead letters.
      const inputs: ReplayInput[] = Array.from({ length: INPUTS }, (_, i) => ({ id: `${name}-${i + 1}`, n: i + 1 }));
      const bad = inputs.filter((i) => !goodBeforeFix(i.n));
      const buggy = await runTopology(dlqReplayTopology(name, false), { transport: client, logger: pino({ level: 'silent' }), closeTransport: false });
      // 50 publishes at a time: 550 at once, beside a topology dead-lettering them, outran the 5 s ack timeout on a busy CI machine.
      for (let at = 0; at < inputs.length; at += 50) {
        await Promise.all(inputs.slice(at, at + 50).map((i) => client.publishDurable(`${name}.in`, msgpackCodec.encode(i), { msgId: i.id })));
      }
      await until(async () => (await client.streamState(dlqStream).catch(() => ({ messages: 0 }))).messages === bad.length, {
        what: `${bad.length} dead letters`,
        timeoutMs: 30_000,
      });
      await buggy.stop();
      timeline.push(`${bad.length} dead letters in ${seconds(Date.now() - startedAt)}`);

      const start = async (): Promise<{ topology: CliRun; replay: CliRun; at: number; readyMs: number }> => {
        const at = Date.now();
        const topology = sluice(['run', FIXTURE, '--nats', url, '--allow-control'], env);
        children.push(topology);
        await topology.waitFor(/sluice: running/);
        const replay = sluice(['dlq', 'replay', name, '--nats', url, '--json'], env);
        children.push(replay);
        return { topology, replay, at, readyMs: Date.now() - at };
      };
      const perRun = Math.floor(bad.length / (KILLS + 1));
      for (let k = 1; k <= KILLS; k++) {
        const { topology, replay, at, readyMs } = await start();
        const target = replayedOf.size + 1 + Math.floor(rnd() * perRun);
        let replayExited = false;
        void replay.result.then(() => (replayExited = true));
        await until(() => replayedOf.size >= target || replayExited, { what: `${target} records replayed`, everyMs: 1, timeoutMs: 30_000 });
        const endedFirst = replayExited;
        const firstAt = Date.now() - at;
        await new Promise((r) => setTimeout(r, Math.floor(rnd() * 20)));
        topology.kill('SIGKILL');
        replay.kill('SIGKILL');
        const { signal } = await topology.result;
        await replay.result;
        timeline.push(
          `topology ${signal ?? 'exited'} after ${replayedOf.size} records replayed (target ${target}${endedFirst ? ', the replay ended first' : ''}) at ${seconds(firstAt)} (topology ready after ${seconds(readyMs)})`,
        );
      }
      const { topology, replay, at, readyMs } = await start();
      const last = await replay.result;
      topology.kill('SIGTERM');
      const stopped = await topology.result;
      timeline.push(
        `last run: replay exit ${last.code}, replayed ${(JSON.parse(last.stdout || '{}') as { replayed?: number }).replayed}, at ${seconds(Date.now() - at)} (topology ready after ${seconds(readyMs)})`,
      );

      // What the target stream holds: one message per record, carrying its input's id.
      const replays = (await readStream(client, stream)).filter((m) => m.headers[REPLAY_HEADERS.of] !== undefined);
      const byId = new Map<string, number>();
      for (const m of replays) {
        const { id } = msgpackCodec.decode(m.data) as ReplayInput;
        byId.set(id, (byId.get(id) ?? 0) + 1);
      }
      const badIds = new Set(bad.map((i) => i.id));
      const lost = bad.filter((i) => !byId.has(i.id)).length;
      const duplicated = [...byId.entries()].filter(([id]) => badIds.has(id)).reduce((sum, [, n]) => sum + n - 1, 0);
      const unexpected = [...byId.keys()].filter((id) => !badIds.has(id)).length;
      const bySeq = new Map(replays.map((m) => [m.seq, m.headers[REPLAY_HEADERS.of]]));

      // What the dead-letter stream holds: the records, and one marker each naming that message.
      const markerSubject = deadLetterSubject(name, REPLAYED_PART);
      const dlq = await readStream(client, dlqStream);
      const recordSeqs = dlq.filter((m) => m.subject !== markerSubject).map((m) => m.seq);
      const markers = dlq.filter((m) => m.subject === markerSubject).map((m) => msgpackCodec.decode(m.data) as ReplayMarker);
      const markersOf = new Map<number, number>();
      for (const mk of markers) markersOf.set(mk.replayed, (markersOf.get(mk.replayed) ?? 0) + 1);
      const problems: string[] = [];
      if (recordSeqs.length !== bad.length) problems.push(`${recordSeqs.length} records in ${dlqStream}, expected ${bad.length}`);
      const unmarked = recordSeqs.filter((s) => markersOf.get(s) === undefined);
      const markedTwice = recordSeqs.filter((s) => (markersOf.get(s) ?? 0) > 1);
      if (unmarked.length > 0) problems.push(`${unmarked.length} records not marked replayed (first seq ${unmarked[0]})`);
      if (markedTwice.length > 0) problems.push(`${markedTwice.length} records marked replayed more than once (first seq ${markedTwice[0]})`);
      const misnamed = markers.filter((mk) => mk.to?.stream !== stream || bySeq.get(mk.to.seq) !== `${dlqStream}/${mk.replayed}`);
      if (misnamed.length > 0) problems.push(`${misnamed.length} markers do not name their replay (first: ${JSON.stringify(misnamed[0])})`);
      const page = await readDeadLetters(client, name, { limit: 1000 });
      if (page.counts.replayed !== bad.length || page.counts.dead + page.counts.parked > 0) problems.push(`statuses ${JSON.stringify(page.counts)}`);

      const afterCrash = markers.filter((mk) => mk.to?.duplicate === true).length;
      const line =
        `dlq replay crash: seed ${seed}; ${bad.length} records; ${KILLS} kills [${timeline.join('; ')}]; ` +
        `replays in ${stream} ${replays.length}: lost ${lost}, duplicated ${duplicated}, unexpected ${unexpected}; ` +
        `re-publishes ${republishes} (${republishes - replayedOf.size} again after a kill, ${afterCrash} of them dropped as duplicates and then marked); ` +
        `markers ${markers.length}; ${((Date.now() - startedAt) / 1000).toFixed(1)} s` +
        (problems.length > 0 ? `; problems: ${problems.join(' | ')}` : '');
      console.log(line);
      expect({ exit: last.code, stopped: stopped.code, lost, duplicated, unexpected, replays: replays.length, problems }, line).toEqual({
        exit: 0,
        stopped: 0,
        lost: 0,
        duplicated: 0,
        unexpected: 0,
        replays: bad.length,
        problems: [],
      });
    } catch (err) {
      // A failure before the counts (a child that did not start, a replay that never got far): still name the seed.
      if (err instanceof Error && err.name === 'AssertionError') throw err; // its message has the seed
      throw new Error(`dlq replay crash, seed ${seed} [${timeline.join('; ')}]: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    } finally {
      sub.unsubscribe();
      for (const c of children) c.kill('SIGKILL');
      await Promise.all(children.map((c) => c.result.catch(() => undefined)));
      await client.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
