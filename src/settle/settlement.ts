/** How a failed settlement asks its source to treat the input (absent: retry, no part named). */
export interface FailureOutcome {
  /** Dead-letter the input now rather than redeliver it (`Supervision` `'resume'`). */
  readonly resume: boolean;
  /** The stage whose function failed, `<kind>:<name>` or `pipeline <n>`: the dead letter's operator. */
  readonly part?: string | undefined;
}

/**
 * The bookkeeping behind "no message is acknowledged before the effects it caused are complete".
 *
 * A `Settlement` stands for one input (a JetStream message) or one group of inputs (a batch).
 * It counts holds: the creator's own, plus one for every part of the topology still working on
 * the input's behalf (a sink awaiting a publish ack, a batch not yet flushed, a dead letter not
 * yet stored). When the last hold is released the settlement settles once: as done, or as failed
 * when any holder called `fail` — the source then acks, or naks for redelivery.
 *
 * Like Redpanda Connect's per-message transaction, and like Kafka Streams committing only what
 * is complete, a group settles its members only when the group's own effects are complete.
 */
export class Settlement {
  private holds = 1;
  private failure: Error | undefined;
  private outcome: FailureOutcome | undefined;
  // Outputs numbered so far: the first sink's in two fields (the usual case, one sink per path),
  // any other sink's in a map made only then. This runs for every durable output.
  private firstSink: string | undefined;
  private firstSinkOutputs = 0;
  private otherSinkOutputs: Map<string, number> | undefined;

  constructor(
    /**
     * Where the input came from: `<stream>:<seq>` for one JetStream message, a derived name for
     * a group. Output message ids are built from it.
     */
    readonly key: string,
    /**
     * True when `key` names the same inputs on every replay (a single stream message, or a group
     * recorded before its effects), so output ids derived from it make re-publishes duplicates.
     */
    readonly replayStable: boolean,
    private readonly onSettle: (failure: Error | undefined, outcome?: FailureOutcome) => void,
  ) {}

  /** Whether it has settled (no holds left). A settled settlement can no longer be held. */
  get settled(): boolean {
    return this.holds === 0;
  }

  /** Whether a holder has failed it (it settles as failed once the holds are released). */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /**
   * Adds a hold: the caller has work to finish before the input may be acknowledged. Returns false
   * (and adds nothing) when the settlement has already settled: the input was acknowledged before
   * this effect, so the caller's path is weaker than stated and should say so.
   */
  hold(): boolean {
    if (this.holds === 0) return false;
    this.holds++;
    return true;
  }

  /** Releases one hold; the last release settles. Extra releases are ignored. */
  release(): void {
    if (this.holds === 0) return;
    if (--this.holds === 0) this.onSettle(this.failure, this.outcome);
  }

  /**
   * Marks the input failed without releasing; the first failure is kept. `supervision` says what
   * the source does with it (see `Supervision`): `'retry'` (default) redelivers it after a backoff
   * and dead-letters it after its last delivery; `'resume'` dead-letters it at once, naming
   * `part` (the stage whose function threw) as the operator that gave up.
   */
  fail(error: Error, supervision: 'retry' | 'resume' = 'retry', part?: string): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    if (supervision === 'resume' || part !== undefined) this.outcome = { resume: supervision === 'resume', part };
  }

  /**
   * The index of the next output this input sends to `sink`, counting from 0: with `key`, it
   * makes a deterministic output id when the pipeline is deterministic.
   */
  nextOutputIndex(sink: string): number {
    this.firstSink ??= sink;
    if (sink === this.firstSink) return this.firstSinkOutputs++;
    this.otherSinkOutputs ??= new Map();
    const n = this.otherSinkOutputs.get(sink) ?? 0;
    this.otherSinkOutputs.set(sink, n + 1);
    return n;
  }

  /**
   * One settlement for a group of inputs (a batch): it holds each member until it settles, then
   * releases them, failing them all when it failed. Members already settled are skipped (their
   * path lost the guarantee earlier). `stableKey` names the group the same way on every replay
   * when the grouping was recorded; without it the group's outputs get no deterministic id.
   */
  static join(members: readonly Settlement[], stableKey?: string): Settlement {
    const held = members.filter((m) => m.hold());
    const first = held[0]?.key ?? 'none';
    const key = stableKey ?? `${first}+${held.length}`;
    return new Settlement(key, stableKey !== undefined, (failure, outcome) => {
      for (const m of held) {
        if (failure !== undefined) m.fail(failure, outcome?.resume === true ? 'resume' : 'retry', outcome?.part);
        m.release();
      }
    });
  }
}
