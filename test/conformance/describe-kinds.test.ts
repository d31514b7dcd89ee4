import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { jetstreamManager, type StreamInfo } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import { deadLetterSubject } from '../../src/dead-letter/dead-letter-subject.js';
import { runTopology } from '../../src/runtime/run-topology.js';
import { serviceSubject } from '../../src/runtime/service-subject.js';
import type { TopologyContract } from '../../src/runtime/topology-contract.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import { subjectMatches } from '../../src/transport/subject.js';
import { useNatsServer } from '../helpers/nats-server.js';
import { until } from '../helpers/until.js';
import kinds from './describe-kinds-topology.js';

/**
 * `describe --json` (the CLI, in a child process) against what a run actually uses: a responder
 * (request subject, reply headers, its dead letters), a schedule (listed, never on the wire), a
 * declared `t.publish` subject, and a fileSink (listed in paths; the files appear in its dir).
 */
const server = useNatsServer();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
// JetStream's API, acks and inboxes, and the micro service discovery: protocol, not the topology's wire.
const PROTOCOL = ['$JS.>', '_INBOX.>', '$SRV.>'];
const FIXTURE = resolve('test/conformance/describe-kinds-topology.ts');

describe('describe, checked against a run, for responders, schedules, declared publishes and file sinks', () => {
  it('every subject and stream used is described, every request/out/dead-letter described is used, reply headers and files as described', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-describe-kinds-'));
    dirs.push(dir);
    const fileDir = join(dir, 'files');
    process.env['KINDS_FILE_DIR'] = fileDir;
    const { stdout } = await promisify(execFile)(process.execPath, ['bin/sluice.js', 'describe', FIXTURE, '--json'], {
      env: { ...process.env, KINDS_FILE_DIR: fileDir },
    });
    const contract = JSON.parse(stdout) as TopologyContract;
    const entry = (direction: string, subject: string) => contract.subjects.find((s) => s.direction === direction && s.subject === subject);

    // What describe says about each kind.
    const request = entry('request', 'kinds.price')!;
    expect(request).toMatchObject({ part: 'respond price', transport: 'core', guarantee: 'at-most-once', payload: { required: ['sku', 'quantity'] } });
    expect(request.description).toContain(deadLetterSubject('kinds'));
    const reply = contract.subjects.find((s) => s.direction === 'reply' && s.part === 'respond price')!;
    expect(reply).toMatchObject({ transport: 'core', guarantee: 'at-most-once', payload: { required: ['sku', 'cents'] } });
    expect(reply.headers.map((h) => h.name)).toEqual(['Content-Type', 'Sluice-Reply-Outcome', 'Nats-Service-Error', 'Nats-Service-Error-Code']);
    expect(entry('internal', 'schedule.tick')).toMatchObject({ part: 'schedule tick', transport: 'none', guarantee: 'at-most-once' });
    expect(entry('internal', 'schedule.tick')!.description).toContain("cron '* * * * * *' in UTC, catch-up 'skip', overlap 'skip'");
    expect(entry('out', 'kinds.audit')).toMatchObject({ part: 'sink audit', payload: { required: ['sku', 'at'] } });
    expect(contract.paths).toContainEqual(expect.objectContaining({ from: 'KINDS (kinds.lines)', to: `file:${fileDir} (ndjson)`, guarantee: 'at-least-once' }));

    // The run, with everything on the wire recorded.
    const observer = await connect({ servers: server().url });
    const onWire = new Set<string>();
    observer.subscribe('>', { callback: (_err, msg) => void onWire.add(msg.subject) });
    await observer.flush();
    const transport = await NatsTransport.connect({ servers: server().url });
    const run = await runTopology(kinds, {
      transport,
      logger: pino({ level: 'silent' }),
      report: () => undefined,
      closeTransport: false,
      stateDir: join(dir, 'state'),
    });
    let streams: StreamInfo[];
    try {
      const jsm = await jetstreamManager(transport.nc);
      await until(
        async () =>
          (
            await Promise.all(
              contract.streams.map((s) =>
                jsm.streams.info(s.name).then(
                  () => true,
                  () => false,
                ),
              ),
            )
          ).every(Boolean),
        { what: 'the topology streams' },
      );
      // A good request: answered with the described reply; a bad one: an error reply with the described headers, and a dead letter.
      const good = await transport.nc.request('kinds.price', msgpackCodec.encode({ sku: 'A-1', quantity: 2 }), { timeout: 5_000 });
      expect(msgpackCodec.decode(good.data)).toEqual({ sku: 'A-1', cents: 500 });
      expect(good.headers?.get('Sluice-Reply-Outcome')).toBe('answered');
      const bad = await transport.nc.request('kinds.price', msgpackCodec.encode({ sku: '', quantity: 'two' }), { timeout: 5_000 });
      expect(bad.data.length).toBe(0);
      expect(bad.headers?.get('Nats-Service-Error-Code')).toBe('400');
      expect(bad.headers?.get('Nats-Service-Error')).toMatch(/^PayloadSchemaError: .*kinds\.price/);
      const described = new Set(reply.headers.map((h) => h.name));
      for (const m of [good, bad]) for (const [name] of m.headers ?? []) expect(described.has(name), `reply header ${name}`).toBe(true);
      // Lines to the file sink; a tick from the schedule.
      await transport.publishDurable('kinds.lines', msgpackCodec.encode({ line: 1 }));
      await transport.publishDurable('kinds.lines', msgpackCodec.encode({ line: 2 }));
      await until(
        () =>
          readdirSync(fileDir, { withFileTypes: true }).some((f) => f.name.endsWith('.ndjson')) &&
          onWire.has('kinds.ticks') &&
          onWire.has(deadLetterSubject('kinds')) &&
          onWire.has('kinds.audit'),
        { what: 'a file, a tick, the dead letter and the audit', timeoutMs: 10_000 },
      );
      // The running topology's service answers the same document as the CLI.
      const answer = await transport.nc.request(serviceSubject('kinds', 'describe'), new Uint8Array(), { timeout: 5_000 });
      expect(answer.json()).toEqual(contract);
      streams = await jsm.streams.list().next();
    } finally {
      await run.stop();
      await transport.close();
      await observer.drain();
    }

    const patterns = contract.subjects.map((s) => s.subject).filter((s) => !s.startsWith('('));
    const unexplained = [...onWire].filter((w) => !PROTOCOL.some((p) => subjectMatches(p, w)) && !patterns.some((p) => subjectMatches(p, w)));
    expect(unexplained, 'subjects used but not described').toEqual([]);
    const notUsed = contract.subjects.filter(
      (s) => ['request', 'out', 'dead-letter', 'in'].includes(s.direction) && s.part !== 'service' && !s.subject.endsWith('.$replayed'),
    );
    expect(
      notUsed.filter((s) => ![...onWire].some((w) => subjectMatches(s.subject, w))).map((s) => s.subject),
      'described but never used',
    ).toEqual([]);
    expect(onWire.has('schedule.tick'), 'a schedule is in-process, not on the wire').toBe(false);
    const described = new Map(contract.streams.map((s) => [s.name, [...s.subjects].sort()]));
    const mine = streams.filter((s) => s.config.subjects.some((subject) => patterns.some((p) => subjectMatches(p, subject) || subjectMatches(subject, p))));
    expect(Object.fromEntries(mine.map((s) => [s.config.name, [...s.config.subjects].sort()]))).toEqual(Object.fromEntries(described));
    // The files are where the path says, in its format.
    expect(readdirSync(fileDir).filter((f) => f.endsWith('.ndjson')).length).toBeGreaterThan(0);
  }, 60_000);
});
