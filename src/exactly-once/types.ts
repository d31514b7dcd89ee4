import type { StreamMessage } from '../transport/transport.js';

/**
 * The contract between the exactly-once engine (src/exactly-once) and what runs on it (actors,
 * durable batches). DRAFT shape: the exactly-once engineer owns and may refine it; the actor
 * engineer codes against it.
 *
 * The engine consumes one stream from `checkpoint + 1` with an ordered consumer, cuts it into
 * micro-batches, and for each batch calls `process(batch, txn)`. Everything `process` writes
 * through `txn` — state puts/deletes, outputs, timers — is committed in ONE LMDB transaction
 * together with the batch's last input sequence. Outputs are then published from the outbox with a
 * deterministic `Nats-Msg-Id` (`<topology>.<source>.<seq>.<index>`) and removed after the ack.
 * A throw from `process` fails the batch before anything is committed.
 */
export interface ExactlyOnceTxn {
  /** Reads a value written earlier (committed, or written earlier in this batch). */
  get<V>(namespace: string, key: string): V | undefined;
  put<V>(namespace: string, key: string, value: V): void;
  delete(namespace: string, key: string): void;
  /**
   * Queues an output for `subject`; published after commit with a message id derived from the
   * input message's position and `index` of outputs for that input, so a replay after a crash
   * yields identical ids.
   */
  emit(input: StreamMessage, subject: string, data: Uint8Array, headers?: Readonly<Record<string, string>>): void;
}

/** Processes one micro-batch of input; may be async (e.g. an actor asks another service). */
export type BatchProcessor = (batch: readonly StreamMessage[], txn: ExactlyOnceTxn) => void | Promise<void>;
