/** What a part of a topology is. */
export type PartKind = 'pipeline' | 'source' | 'stream' | 'sink' | 'operator' | 'actor' | 'durable-batch' | 'durable-window';

/** The parts backed by an exactly-once engine: they publish (and dead-letter) through their own outbox, not the runtime's sinks. */
export const ENGINE_KINDS: ReadonlySet<PartKind> = new Set(['actor', 'durable-batch', 'durable-window']);

/** `starting` until an actor or durable batch has opened its store and engine; `failed` after its error. */
export type PartState = 'starting' | 'running' | 'completed' | 'failed';

/**
 * What a part's state says against the topology, for its health (`sluice status`) and its
 * readiness (`GET /readyz`): a failed part makes it failing, a starting one starting; a running
 * or completed part says nothing.
 */
export function partStateProblem(name: string, state: PartState): { readonly health: 'failing' | 'starting'; readonly why: string } | undefined {
  if (state === 'failed') return { health: 'failing', why: `${name} failed` };
  if (state === 'starting') return { health: 'starting', why: `${name} is starting` };
  return undefined;
}

/**
 * The one stats shape every part of a topology reports (the `parts` of the stats endpoint; see
 * docs/operations.md). A field that does not apply to a kind of part is `null`, never left out,
 * so tables and scripts read every part the same way.
 */
export interface PartStats {
  readonly kind: PartKind;
  /** Unique within the topology: `stream SHOP_ORDERS`, `sink analytics.orders.batch`, `actor stock`, ... */
  readonly name: string;
  readonly state: PartState;
  /** Events that came in (messages delivered, values received, inputs read by an engine). */
  readonly in: number;
  /** Events that went out (values passed on, messages published, outputs committed). */
  readonly out: number;
  /** Rates over the last ~10 s, events/s (filled in by the stats endpoint). */
  readonly inPerSec: number;
  readonly outPerSec: number;
  /** Dead letters this part wrote. */
  readonly deadLetters: number;
  /** Messages this part holds whose effects are not complete (a stream's unacknowledged messages, a durable sink's publishes awaiting their ack, an engine's outputs awaiting theirs). */
  readonly unsettled: number | null;
  /** Messages in the stream not yet delivered to this part (the consumer's `num_pending`; for an engine, stream last seq − committed position). */
  readonly lag: number | null;
  /** Batches (micro-batches, windows, engine commits, flushed durable batches). */
  readonly batches: number | null;
  readonly lastBatchSize: number | null;
  readonly maxBatchSize: number | null;
  /** Actors (keys) held in memory. */
  readonly actors: number | null;
  /** Outputs committed to the outbox and not yet acknowledged by JetStream. */
  readonly outbox: number | null;
  /** Kind-specific counters (an engine's duplicates and resends, a durable batch's open values...). */
  readonly detail?: Readonly<Record<string, number>> | undefined;
}

/** What a part reports synchronously; rates are added by the endpoint, lag by {@link PartProvider.lag}. */
export type PartReading = Omit<PartStats, 'kind' | 'name' | 'inPerSec' | 'outPerSec' | 'lag'> & { readonly lag?: number | null | undefined };

/** A registered part: read on demand, never on a message path. */
export interface PartProvider {
  readonly kind: PartKind;
  readonly name: string;
  read(): PartReading;
  /** Asks the broker how far behind the part is (a stats request only). */
  lag?(): Promise<number | null>;
}

/**
 * Plain counters a part bumps on its hot path: fields, no allocation per event, methods (not
 * arrow properties) so tsx's keepNames adds nothing per call.
 */
export class PartCounters implements PartProvider {
  in = 0;
  out = 0;
  deadLetters = 0;
  /** Null when the part holds nothing (a core source). */
  unsettled: number | null = null;
  batches: number | null = null;
  lastBatchSize: number | null = null;
  maxBatchSize: number | null = null;
  state: PartState = 'running';
  /** Effects that failed and will be retried (a durable sink's refused publishes); reported in `detail`. Null: not counted. */
  failures: number | null = null;
  lagOf: (() => Promise<number | null>) | undefined;

  constructor(
    readonly kind: PartKind,
    readonly name: string,
  ) {}

  /** Counts one batch of `size` values going out. */
  batch(size: number): void {
    this.batches = (this.batches ?? 0) + 1;
    this.lastBatchSize = size;
    if (this.maxBatchSize === null || size > this.maxBatchSize) this.maxBatchSize = size;
  }

  read(): PartReading {
    return {
      state: this.state,
      in: this.in,
      out: this.out,
      deadLetters: this.deadLetters,
      unsettled: this.unsettled,
      batches: this.batches,
      lastBatchSize: this.lastBatchSize,
      maxBatchSize: this.maxBatchSize,
      actors: null,
      outbox: null,
      detail: this.failures === null ? undefined : { failures: this.failures },
    };
  }

  lag(): Promise<number | null> {
    return this.lagOf === undefined ? Promise.resolve(null) : this.lagOf();
  }
}
