import type { Observable } from 'rxjs';
import type { TopologyContext } from './types.js';
import type { StreamConfig } from '../transport/transport.js';
import { durableWindowProcessor, type DurableWindowProcessorConfig } from '../exactly-once/durable-window-processor.js';
import type { WindowMeta } from '../exactly-once/durable-window-state.js';
import type { DurableWindowCounters } from '../exactly-once/durable-window-types.js';
import { runEnginePart } from './engine-part.js';
import { startExactlyOnce } from '../exactly-once/start-exactly-once.js';
import type { ExactlyOnceHandle } from '../exactly-once/types.js';

/** Options of {@link durableWindowEngine}. */
export interface DurableWindowEngineOptions<T, A> extends Omit<DurableWindowProcessorConfig<T, A>, 'counters' | 'onCommitted' | 'now' | 'maxPayloadBytes'> {
  /** The window's own stream (values, idle ticks, closes). */
  readonly stream: string;
  /** Default: the `SLUICE_STATE_DIR` environment variable, else `./.sluice/state`. */
  readonly stateDir?: string | undefined;
  /** Streams to create (or extend) before starting. */
  readonly ensureStreams: readonly StreamConfig[];
  /** One status line every this many ms; 0 = none. Default 5000. */
  readonly reportEveryMs?: number | undefined;
  /** Input micro-batching of the engine (see `startExactlyOnce`). */
  readonly batch?: { maxCount?: number | undefined; maxWaitMs?: number | undefined } | undefined;
}

/** What the mount reads of a running window: its committed clock and when a value last arrived. */
export interface DurableWindowProbe {
  /** Committed clock and open windows; undefined until the engine has committed once in this run. */
  meta: WindowMeta | undefined;
  /** Committed input position of the engine (0 before it runs). */
  position: () => number;
  /** Scheduler time of the last commit that held values (or of the start). */
  lastValueAt: number;
}

/**
 * Runs a durable window's processor on the exactly-once engine inside a topology, as
 * `durableBatch(t, ...)` runs a batch: opens the topology's store, starts the engine on the
 * window's own stream, registers the part's stats, errors the run when it fails, stops on drain.
 * `probe` is kept current for the mount's idle ticks.
 */
export function durableWindowEngine<T, A>(t: TopologyContext, options: DurableWindowEngineOptions<T, A>, probe: DurableWindowProbe): Observable<never> {
  const counters: DurableWindowCounters = { closed: 0, late: 0, deadLettered: 0, ticks: 0 };
  const { stream, stateDir, ensureStreams, reportEveryMs, batch, ...processor } = options;
  return runEnginePart<ExactlyOnceHandle>(t, {
    kind: 'durable-window',
    name: `durable-window ${options.name}`,
    stream,
    stateDir,
    start: async (store) => {
      for (const s of ensureStreams) await t.transport.ensureStream(s);
      probe.lastValueAt = t.scheduler.now();
      // Windows left open by the last run tick again when no value comes.
      probe.meta = store.get<WindowMeta>(`window.${options.name}`, 'meta');
      const running = await startExactlyOnce({
        name: `window-${options.name}`,
        transport: t.transport,
        store,
        source: { stream },
        batch,
        logger: t.logger,
        scheduler: t.scheduler,
        process: durableWindowProcessor<T, A>({
          ...processor,
          counters,
          maxPayloadBytes: t.transport.maxPayloadBytes,
          now: () => t.scheduler.now(),
          onCommitted: (meta, values) => {
            probe.meta = meta;
            if (values > 0) probe.lastValueAt = t.scheduler.now();
          },
        }),
      });
      probe.position = () => running.position;
      return running;
    },
    read: ({ stats: s }) => ({
      position: s.position,
      in: s.inputs,
      out: s.outputs,
      deadLetters: counters.deadLettered,
      unsettled: null,
      batches: counters.closed,
      lastBatchSize: null,
      maxBatchSize: null,
      actors: null,
      outbox: s.pendingOutputs,
      detail: {
        position: s.position,
        open: probe.meta?.open ?? 0,
        late: counters.late,
        ticks: counters.ticks,
        acked: s.acked,
        duplicates: s.duplicates,
        resent: s.resent,
      },
    }),
    statusLine: ({ stats: s }) =>
      `${t.topologyName}/${options.name} | position ${s.position} | open windows ${probe.meta?.open ?? '?'} | closed ${counters.closed} | late ${counters.late} | outputs ${s.outputs}, acked ${s.acked}`,
    reportEveryMs,
  });
}
