import { pino } from 'pino';
import { asyncScheduler, isObservable, ReplaySubject } from 'rxjs';
import { LocalTransport } from '../transport/local/local-transport.js';
import { createTopologyContext } from './create-topology-context.js';
import { deadLetterSubject } from '../dead-letter/dead-letter-subject.js';
import type { Topology } from './define-topology.js';
import { RuntimeStats } from '../observe/runtime-stats.js';
import { fileStages, traceSources } from '../observe/lineage.js';
import { pathGuarantee, type PathGuarantee } from '../observe/path-guarantee.js';
import type { TopologyOutput, WiringNode } from './types.js';

/** What a topology reads and writes: for operators, and for services in other languages. */
export interface TopologyDescription {
  readonly name: string;
  /** Sources, streams and sinks, in the order the builder created them. */
  readonly nodes: readonly WiringNode[];
  readonly deadLetterSubject: string;
  /** Every path from a source to a sink, with the guarantee it gets (see README "Guarantees"). */
  readonly paths: readonly TopologyPath[];
}

/** One source-to-sink path of a topology. */
export interface TopologyPath extends PathGuarantee {
  /** The sink's subject (or how it picks one). */
  readonly to: string;
}

/**
 * Lists a topology's inputs and outputs by calling its builder with a context that records them
 * and subscribing nothing (builders wire cold Observables, so nothing runs). Subjects a topology
 * only publishes to at run time (`t.publish`) are not seen unless the builder declares them
 * (`t.declare({ kind: 'sink', subject, name, payload })`).
 *
 * @throws whatever the builder throws (e.g. InvalidConfigError).
 */
export function describeTopology(topology: Topology): TopologyDescription {
  const nodes: WiringNode[] = [];
  const transport = new LocalTransport({ name: `describe:${topology.name}`, keepAlive: false });
  const stopped = new ReplaySubject<void>(1);
  stopped.next();
  const { ctx } = createTopologyContext({
    topologyName: topology.name,
    transport,
    logger: pino({ level: 'silent' }),
    scheduler: asyncScheduler,
    stats: new RuntimeStats(),
    signal: AbortSignal.abort(),
    stopping$: stopped,
    closing$: stopped,
    durableDeadLetters: false,
    track: () => undefined,
    onStop: () => undefined,
    report: () => undefined,
    wire: (node) => nodes.push(node),
  });
  try {
    nodes.push(...fileNodesOf(topology.build(ctx)));
  } finally {
    void transport.close();
  }
  return { name: topology.name, nodes, deadLetterSubject: deadLetterSubject(topology.name), paths: pathsOf(nodes) };
}

/**
 * The `fileSink`s in the pipelines a builder returned, as nodes of kind `file`: files are not
 * subjects, so they are found by following each pipeline upstream, not wired by the context.
 * A file sink in a pipeline the builder subscribes itself is not seen.
 */
export function fileNodesOf(output: TopologyOutput): WiringNode[] {
  const pipelines = Array.isArray(output) ? output : isObservable(output) ? [output] : [];
  const nodes: WiringNode[] = [];
  for (const pipeline of pipelines as readonly unknown[]) {
    if (!isObservable(pipeline)) continue;
    for (const { output: written, info } of fileStages(pipeline)) {
      const { dir, format } = info.file!;
      if (nodes.some((n) => n.name === info.name && n.file?.dir === dir)) continue;
      const trace = traceSources(written);
      // A file replaced under the same name on a replay is to a reader what a duplicate id is to JetStream.
      const paths = trace.sources.map((source) => {
        const p = pathGuarantee(source, trace.stages, { durable: true });
        return p.guarantee === 'exactly-once'
          ? {
              ...p,
              because: 'inputs acknowledged after the file, its manifest and the directory are fsynced; recorded groups rewrite the same file name on a replay',
            }
          : p;
      });
      if (trace.incomplete)
        paths.push({
          from: '(a source Sluice cannot follow)',
          guarantee: 'at-most-once',
          because: 'part of the pipeline cannot be followed (e.g. RxJS merge)',
        });
      nodes.push({ kind: 'file', subject: `file:${dir}`, name: info.name, file: { dir, format, paths } });
    }
  }
  return nodes;
}

/** Every source-to-output path of a wiring, with its guarantee. */
export function pathsOf(nodes: readonly WiringNode[]): TopologyPath[] {
  const paths: TopologyPath[] = [];
  for (const n of nodes) {
    if ((n.kind === 'actor' || n.kind === 'durable-batch' || n.kind === 'durable-window') && n.emits !== undefined) {
      paths.push({
        from: `${n.kind} ${n.name ?? '?'}`,
        to: n.emits.join(', '),
        guarantee: 'exactly-once',
        because: 'state, outputs (outbox) and input position commit in one LMDB transaction; outputs carry deterministic ids',
      });
    }
    if (n.kind === 'file' && n.file !== undefined) for (const p of n.file.paths) paths.push({ ...p, to: `${n.subject} (${n.file.format})` });
    if (n.kind !== 'sink') continue;
    for (const p of n.paths ?? []) paths.push({ ...p, to: n.subject });
    if (n.incomplete === true)
      paths.push({
        from: '(a source Sluice cannot follow)',
        to: n.subject,
        guarantee: 'at-most-once',
        because: 'part of the pipeline cannot be followed (e.g. RxJS merge); state it with the sink nearer its source',
      });
  }
  return paths;
}

/** A few human-readable lines, as `sluice describe` prints them. */
export function formatTopologyDescription(d: TopologyDescription): string {
  const lines = [`topology ${d.name}`];
  for (const n of d.nodes) {
    if (n.kind === 'source') lines.push(`  in   ${n.subject}${n.queue !== undefined ? `  (queue ${n.queue})` : ''}  core NATS`);
    else if (n.kind === 'stream')
      lines.push(`  in   ${n.subject}  JetStream ${n.stream}${n.durableName !== undefined ? `, durable ${n.durableName}` : ', ordered'}`);
    else if (n.kind === 'poll') lines.push(`  in   ${n.subject}  polled`);
    else if (n.kind === 'sink') lines.push(`  out  ${n.subject}  ${n.durable === true ? 'JetStream (acked)' : 'core NATS'}`);
    else if (n.kind === 'respond') lines.push(`  request  ${n.subject}  (queue ${n.queue ?? '?'})  core request/reply, answered on the requester's inbox`);
    else if (n.kind === 'schedule')
      lines.push(
        `  schedule ${n.name ?? '?'}  '${n.timing?.cron ?? '?'}'${n.timing?.tz !== undefined ? ` in ${n.timing.tz}` : ''}  (${n.subject}, in-process)`,
      );
    else if (n.kind === 'file') lines.push(`  out  ${n.subject}  ${n.file?.format ?? '?'} files (${n.name ?? '?'})`);
    else {
      lines.push(
        `  ${n.kind} ${n.name ?? '?'}  reads its own stream ${n.stream ?? '?'} (${n.subject})${n.emits !== undefined && n.emits.length > 0 ? `, emits ${n.emits.join(', ')}` : ''}`,
      );
      if (n.periods !== undefined)
        lines.push(
          `  period batch ${n.name ?? '?'}  one batch per key and period; a close flushes its period's groups ${n.periods.complete === 'rule' ? 'when the complete rule says so' : 'at once (stream order)'}; late values -> ${n.periods.lateSubject}  exactly-once`,
        );
      if (n.deadLetterSubject !== undefined) lines.push(`  dead letters  ${n.deadLetterSubject}  (${n.kind} ${n.name ?? '?'})`);
    }
  }
  lines.push(`  dead letters  ${d.deadLetterSubject}`);
  if (d.paths.length > 0) {
    lines.push('  paths');
    for (const p of d.paths) lines.push(`    ${p.from} -> ${p.to}  ${p.guarantee}  (${p.because})`);
  }
  return lines.join('\n');
}
