import { NEVER, Observable, interval } from 'rxjs';
import { ensureError } from '../errors.js';
import { defineTopology, type Topology } from './define-topology.js';
import type { TopologyContext } from './types.js';
import type { StateStore } from '../state/types.js';
import type { StreamConfig } from '../transport/transport.js';
import type { DurableBatchConfig, DurableBatchHandle } from '../exactly-once/durable-batch-types.js';
import { registerEnginePart } from './engine-part.js';
import { openTopologyStore, type TopologyStore } from './open-topology-store.js';
import { startDurableBatch } from '../exactly-once/start-durable-batch.js';

/** Options of {@link durableBatch} / {@link durableBatchTopology}. */
export interface DurableBatchTopologyOptions extends Omit<DurableBatchConfig, 'transport' | 'store' | 'logger' | 'scheduler'> {
  /**
   * The state store to use (one per topology). Default: opened at `<stateDir>/<topology>` and
   * closed when the run drains; on the in-process transport, a temporary one for the run.
   */
  store?: StateStore | undefined;
  /** Default: the `SLUICE_STATE_DIR` environment variable, else `./.sluice/state`. Unused on the in-process transport. */
  stateDir?: string | undefined;
  /** Streams to create (or extend) before starting: the source (values + trigger subjects) and the outputs. */
  ensureStreams?: readonly StreamConfig[] | undefined;
  /** Period batches: the stream to create for `periods.lateSubject` when no stream captures it yet. Default: none (create it yourself). */
  lateStream?: string | undefined;
  /** One status line every this many ms; 0 = none. Default 5000. */
  reportEveryMs?: number | undefined;
}

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
  const part = registerEnginePart(t, 'durable-batch', `durable-batch ${options.name}`, options.source.stream);
  return new Observable<never>((subscriber) => {
    let opened: TopologyStore | undefined;
    let running: DurableBatchHandle | undefined;
    t.onStop(async () => {
      await running?.stop();
      await opened?.close();
    });
    const start = async (): Promise<void> => {
      const store = options.store ?? (opened = openTopologyStore(t, options.stateDir ?? t.stateDir)).store;
      for (const s of options.ensureStreams ?? []) await t.transport.ensureStream(s);
      const late = options.periods?.lateSubject;
      if (late !== undefined && options.lateStream !== undefined && (await t.transport.findStream(late)) === undefined) await t.transport.ensureStream({ name: options.lateStream, subjects: [late] });
      const { stateDir: _d, ensureStreams: _e, reportEveryMs: _r, store: _s, lateStream: _l, ...config } = options;
      const batch = (running = await startDurableBatch({ ...config, transport: t.transport, store, logger: t.logger, scheduler: t.scheduler }));
      part.running(() => {
        const s = batch.stats;
        return {
          position: s.position, in: s.inputs, out: s.outputs, deadLetters: s.deadLettered, unsettled: null, batches: s.batchesFlushed,
          lastBatchSize: s.batchesFlushed > 0 ? s.lastBatchSize : null, maxBatchSize: s.batchesFlushed > 0 ? s.maxBatchSize : null, actors: null, outbox: s.pendingOutputs,
          detail: {
            position: s.position, open: s.open, chunks: s.chunks, acked: s.acked, duplicates: s.duplicates, resent: s.resent, publishErrors: s.publishErrors,
            ...(options.periods !== undefined ? { openGroups: s.openGroups, waitingGroups: s.waitingGroups, late: s.late, ruleErrors: s.ruleErrors } : {}),
            // Which periods wait, as `waiting:<period>` counters (detail holds numbers only).
            ...Object.fromEntries(Object.entries(s.waitingByPeriod).slice(0, 20).map(([p, n]) => [`waiting:${p}`, n])),
          },
        };
      });
      running.done.catch((err: unknown) => {
        part.failed();
        subscriber.error(ensureError(err));
      });
      const every = options.reportEveryMs ?? 5_000;
      if (every > 0) {
        subscriber.add(
          interval(every, t.scheduler).subscribe(() => {
            const s = running!.stats;
            const groups = options.periods !== undefined ? ` | groups open ${s.openGroups}, waiting ${s.waitingGroups} | late ${s.late}` : '';
            t.report(`${t.topologyName}/${options.name} | position ${s.position} | open ${s.open}${groups} | batches flushed ${s.batchesFlushed} | outputs ${s.outputs}, acked ${s.acked}`);
          }),
        );
      }
    };
    start().catch((err: unknown) => {
      part.failed();
      subscriber.error(ensureError(err));
    });
    subscriber.add(NEVER.pipe(t.untilStopped()).subscribe({ complete: () => subscriber.complete() }));
  });
}

/** A topology running one {@link durableBatch}, for `sluice run`. */
export function durableBatchTopology(name: string, options: DurableBatchTopologyOptions): Topology {
  return defineTopology(name, (t) => durableBatch(t, options));
}
