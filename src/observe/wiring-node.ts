import type { JsonSchema } from '../schema/payload-schema.js';

/** What a path from a source to a sink survives: a processor crash, a broker restart, a redelivery. */
export type Guarantee = 'at-most-once' | 'at-least-once' | 'exactly-once';

/** One source-to-sink path, as `describe` prints it. */
export interface PathGuarantee {
  /** The source: its subject, or `<stream> (<subjects>)`. */
  readonly from: string;
  readonly guarantee: Guarantee;
  /** Why, in one line. */
  readonly because: string;
}

/** One input or output of a topology, as `describeTopology` lists it. */
export interface WiringNode {
  /**
   * `poll`: a polling source (`poll`, `fileDrop`) that advances its position only after effects.
   * `respond`: a `t.respond` responder (core request/reply). `schedule`: a `t.schedule` calendar
   * source (not on the wire). `file`: a `fileSink` (files, not subjects; `subject` is `file:<dir>`).
   */
  readonly kind: 'source' | 'stream' | 'poll' | 'sink' | 'actor' | 'durable-batch' | 'durable-window' | 'respond' | 'schedule' | 'file';
  /**
   * Subject or pattern; for a stream, its subjects; for a sink without a fixed subject, how it
   * picks one; for a polling source, `poll:<name>` or `fileDrop:<dir>`.
   */
  readonly subject: string;
  /** Kinds 'actor' and 'durable-batch': its name. Kind 'sink': its name in output ids. */
  readonly name?: string | undefined;
  /** Kinds 'actor' and 'durable-batch': the subjects its outputs go to (exactly-once), when declared. */
  readonly emits?: readonly string[] | undefined;
  /** JetStream stream name (kind 'stream'; the own input stream of an actor or durable batch). */
  readonly stream?: string | undefined;
  readonly durableName?: string | undefined;
  /** Queue group (kind 'source'). */
  readonly queue?: string | undefined;
  /** JetStream publish with ack (kind 'sink'). */
  readonly durable?: boolean | undefined;
  /** Kind 'stream': the one subject this read consumes (its consumer's filter; `subject` is then this, `subjects` the stream's). */
  readonly filterSubject?: string | undefined;
  /** Ordered read from `startSeq`, nothing acknowledged, read again on every start (kind 'stream'). */
  readonly ordered?: boolean | undefined;
  /**
   * Kind 'stream' (durable read): messages delivered but not yet settled, at most. An operator
   * that holds inputs in memory (a batch) must fit under it or the stream stops delivering.
   */
  readonly maxUnsettled?: number | undefined;
  /**
   * Kind 'poll': a re-read from the same position yields the same items in the same order, so
   * outputs get deterministic ids (see `poll`'s `deterministic`).
   */
  readonly replayStable?: boolean | undefined;
  /**
   * Kind 'sink': every source whose values reach this sink, with the guarantee of that path.
   * Found by following the pipeline upstream; `incomplete` when part of it could not be followed.
   */
  readonly paths?: readonly PathGuarantee[] | undefined;
  readonly incomplete?: boolean | undefined;
  /** Every subject (or pattern) of the node, one per entry: a stream's subjects, a sink's declared subjects. */
  readonly subjects?: readonly string[] | undefined;
  /** JSON Schema of the payload on every subject of the node (from its `schema`). */
  readonly payload?: JsonSchema | undefined;
  /**
   * Kinds 'actor' and 'durable-batch': payload schemas by subject (inputs and outputs), for
   * parts whose subjects carry different shapes.
   */
  readonly payloads?: Readonly<Record<string, JsonSchema | undefined>> | undefined;
  /** Kinds 'actor' and 'durable-batch': the subjects it reads from outside (its input stream's other subjects). */
  readonly inputs?: readonly string[] | undefined;
  /** Kinds 'actor' and 'durable-batch': the streams its outputs (`emits`) go to. */
  readonly outputStreams?: readonly { readonly name: string; readonly subjects: readonly string[] }[] | undefined;
  /** Kinds 'actor' and 'durable-batch': where its own dead letters go (when not the topology's). */
  readonly deadLetterSubject?: string | undefined;
  /**
   * Kind 'durable-batch' with `periods`: batches per key and period; where late values go, and
   * whether a closed period's groups flush at the close (`'stream order'`) or by a user `complete` rule.
   */
  readonly periods?: { readonly lateSubject: string; readonly complete: 'stream order' | 'rule' } | undefined;
  /** Kind 'actor': the pattern its state queries are answered on (core request/reply), when it answers them. */
  readonly queryPattern?: string | undefined;
  /** Kind 'respond': JSON Schema of its replies (from `replySchema`). */
  readonly replyPayload?: JsonSchema | undefined;
  /** Kind 'schedule': when it fires and what it does about missed and overlapping runs. */
  readonly timing?: { readonly cron: string; readonly tz?: string | undefined; readonly catchUp: string; readonly overlap: string } | undefined;
  /** Kind 'file': the directory and format of the files, and the guarantee of the path into them. */
  readonly file?: { readonly dir: string; readonly format: string; readonly paths: readonly PathGuarantee[] } | undefined;
}
