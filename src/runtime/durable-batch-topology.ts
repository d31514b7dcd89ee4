import type { Observable } from 'rxjs';
import { defineTopology, type Topology } from './define-topology.js';
import type { TopologyContext } from './types.js';
import type { DurableBatchTopologyOptions } from './mount-types.js';
import type { DurableBatchHandle } from '../exactly-once/durable-batch-types.js';
import { runEnginePart } from './engine-part.js';
import { startDurableBatch } from '../exactly-once/start-durable-batch.js';

/**
 * Runs a durable batch (see `startDurableBatch`) inside a topology: returns a pipeline for the
 * builder to return (alone or beside others). It starts when the run starts, errors the run when
 * the batch fails, and on drain stops it (finishing the chunk in progress and its acks).
 *
 * On NATS (JetStream) it is exactly-once across crashes. On the in-process transport it runs the
 * same way without durability: streams live in memory, the store is a temporary directory, and
 * the engine warns once at start ("durability off: in-process transport").
 *
 * ```ts
 * export default defineTopology('crm-sync', (t) => [
 *   durableBatch(t, { name: 'prefs', source: { stream: 'PREFS' }, triggerSubjects: ['ops.end-of-day'],
 *     flush: (chunk, emit) => { for (const r of chunk) emit('crm.sync', r.data); } }),
 * ]);
 * ```
 */
export function durableBatch(t: TopologyContext, options: DurableBatchTopologyOptions): Observable<never> {
  const { stateDir, ensureStreams, reportEveryMs, store, lateStream, ...config } = options;
  return runEnginePart<DurableBatchHandle>(t, {
    kind: 'durable-batch',
    name: `durable-batch ${options.name}`,
    stream: options.source.stream,
    store,
    stateDir,
    start: async (opened) => {
      for (const s of ensureStreams ?? []) await t.transport.ensureStream(s);
      const late = options.periods?.lateSubject;
      if (late !== undefined && lateStream !== undefined && (await t.transport.findStream(late)) === undefined)
        await t.transport.ensureStream({ name: lateStream, subjects: [late] });
      return startDurableBatch({ ...config, transport: t.transport, store: opened, logger: t.logger, scheduler: t.scheduler });
    },
    read: ({ stats: s }) => ({
      position: s.position,
      in: s.inputs,
      out: s.outputs,
      deadLetters: s.deadLettered,
      unsettled: null,
      batches: s.batchesFlushed,
      lastBatchSize: s.batchesFlushed > 0 ? s.lastBatchSize : null,
      maxBatchSize: s.batchesFlushed > 0 ? s.maxBatchSize : null,
      actors: null,
      outbox: s.pendingOutputs,
      detail: {
        position: s.position,
        open: s.open,
        chunks: s.chunks,
        acked: s.acked,
        duplicates: s.duplicates,
        resent: s.resent,
        publishErrors: s.publishErrors,
        ...(options.periods !== undefined ? { openGroups: s.openGroups, waitingGroups: s.waitingGroups, late: s.late, ruleErrors: s.ruleErrors } : {}),
        // Which periods wait, as `waiting:<period>` counters (detail holds numbers only).
        ...Object.fromEntries(
          Object.entries(s.waitingByPeriod)
            .slice(0, 20)
            .map(([p, n]) => [`waiting:${p}`, n]),
        ),
      },
    }),
    statusLine: ({ stats: s }) => {
      const groups = options.periods !== undefined ? ` | groups open ${s.openGroups}, waiting ${s.waitingGroups} | late ${s.late}` : '';
      return `${t.topologyName}/${options.name} | position ${s.position} | open ${s.open}${groups} | batches flushed ${s.batchesFlushed} | outputs ${s.outputs}, acked ${s.acked}`;
    },
    reportEveryMs,
  });
}

/** A topology running one {@link durableBatch}, for `sluice run`. */
export function durableBatchTopology(name: string, options: DurableBatchTopologyOptions): Topology {
  return defineTopology(name, (t) => durableBatch(t, options));
}
