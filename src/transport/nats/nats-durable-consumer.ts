import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import type { ResolvedConsumeOptions } from '../validate-transport-options.js';

/**
 * The name of the short-lived consumer that holds a durable consumer's restart position while
 * that consumer is deleted and recreated (nats-server 2.9 cannot move a consumer's start by
 * update): a crash between the delete and the add finds it and resumes from it.
 */
export function restartMarkName(durableName: string): string {
  return `${durableName}_restart`;
}

/**
 * Creates the durable consumer `o.durableName`, or brings the existing one to `o`'s settings.
 *
 * When the consumer has unacknowledged deliveries (its last reader crashed), JetStream would
 * hand the next reader the NEWER messages at once and the unacknowledged ones only after their
 * ack wait: per-key order would break across the crash. So, when `o.reReadUnackedWithinMs` allows
 * it, the consumer is recreated to start at its ack floor + 1 — the unacknowledged messages come
 * first, in stream order, followed by those acked past the floor again (duplicates: the reader
 * must be at-least-once, or drop them by message id, as Sluice's hand-overs do) — but only when
 *  - its last delivery was less than `reReadUnackedWithinMs` ago: the duplicates were handed on
 *    that recently, so a hand-over's duplicate window still drops them. Later, their ack wait has
 *    usually expired and JetStream redelivers them before newer messages anyway;
 *  - no other reader is pulling from it (`num_waiting` 0): instances sharing the consumer keep it.
 * The move goes through a restart mark (see {@link restartMarkName}) so no crash can lose it; a
 * stream that refuses the mark (a work queue allows one consumer per subject) is not moved.
 */
export async function ensureDurableConsumer(jsm: JetStreamManager, o: ResolvedConsumeOptions & { durableName: string }, nowMs = Date.now()): Promise<void> {
  const settings: Partial<ConsumerConfig> = {
    ack_wait: nanos(o.ackWaitMs),
    max_ack_pending: o.maxInFlight,
    ...(o.filterSubject !== undefined ? { filter_subject: o.filterSubject } : {}),
  };
  const info = await infoOrUndefined(jsm, o.stream, o.durableName);
  if (info === undefined) {
    // A restart mark left by a crash in the middle of a move says where the consumer stood.
    const mark = await infoOrUndefined(jsm, o.stream, restartMarkName(o.durableName));
    const startSeq = mark?.config.opt_start_seq ?? o.startSeq;
    await jsm.consumers.add(o.stream, {
      durable_name: o.durableName,
      ack_policy: AckPolicy.Explicit,
      ...(startSeq > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq } : { deliver_policy: DeliverPolicy.All }),
      ...settings,
    });
    if (mark !== undefined) await deleteIfExists(jsm, o.stream, mark.name);
  } else if (shouldReRead(info, o.reReadUnackedWithinMs, nowMs) && (await moveToAckFloor(jsm, o.stream, info, settings))) {
    return;
  } else if (Object.entries(settings).some(([k, v]) => info.config[k as keyof ConsumerConfig] !== v)) {
    await jsm.consumers.update(o.stream, o.durableName, settings);
  }
}

/** Whether a consumer found at start should be moved back to its ack floor; see {@link ensureDurableConsumer}. */
export function shouldReRead(info: Pick<ConsumerInfo, 'num_ack_pending' | 'num_waiting' | 'delivered'>, withinMs: number, nowMs: number): boolean {
  if (withinMs <= 0 || info.num_ack_pending === 0 || info.num_waiting > 0) return false;
  // The server sends an RFC 3339 time (typed as nanos by the client); unknown counts as recent.
  const lastMs = Date.parse(String(info.delivered.last_active));
  return Number.isNaN(lastMs) || nowMs - lastMs < withinMs;
}

/** Moves the consumer; false (nothing changed) when the stream refuses a second consumer (a work queue). */
async function moveToAckFloor(jsm: JetStreamManager, stream: string, info: ConsumerInfo, settings: Partial<ConsumerConfig>): Promise<boolean> {
  // Nothing acked yet: the floor is the sequence before the configured start.
  const startSeq = Math.max(info.ack_floor.stream_seq + 1, info.config.opt_start_seq ?? 1);
  const { opt_start_time: _t, name: _n, ...kept } = info.config;
  const config: Partial<ConsumerConfig> = { ...kept, ...settings, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq };
  const mark = restartMarkName(info.name);
  await deleteIfExists(jsm, stream, mark); // an older mark from a crash during an earlier move
  try {
    await jsm.consumers.add(stream, { ...config, durable_name: mark });
  } catch (err) {
    if (err instanceof JetStreamApiError) return false;
    throw err;
  }
  await jsm.consumers.delete(stream, info.name);
  await jsm.consumers.add(stream, { ...config, durable_name: info.name });
  await deleteIfExists(jsm, stream, mark);
  return true;
}

async function infoOrUndefined(jsm: JetStreamManager, stream: string, name: string): Promise<ConsumerInfo | undefined> {
  try {
    return await jsm.consumers.info(stream, name);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound) return undefined;
    throw err;
  }
}

async function deleteIfExists(jsm: JetStreamManager, stream: string, name: string): Promise<void> {
  try {
    await jsm.consumers.delete(stream, name);
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err;
  }
}
