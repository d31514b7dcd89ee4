import type { StageInfo } from './lineage.js';
import type { PathGuarantee, WiringNode } from './wiring-node.js';

export type { Guarantee, PathGuarantee } from './wiring-node.js';

/**
 * The guarantee of the path from `source` through `stages` to a sink. The rules (README
 * "Guarantees"):
 * - a core subject acknowledges nothing and nothing redelivers: at-most-once;
 * - a durable stream read settles a message only after its effects, and a polling source saves
 *   its position only after the effects of what it read: at-least-once;
 * - an ordered stream read acknowledges nothing, but every start reads again from `startSeq`,
 *   so a crash loses nothing and repeats what was done: at-least-once, whatever the sink;
 * - ... and exactly-once into a durable (JetStream) sink when every output id is derived from
 *   inputs the same way on every replay: no stage that weakens, groups only when recorded, and
 *   for a polling source only when a re-read from the same position yields the same items.
 */
export function pathGuarantee(source: WiringNode, stages: readonly StageInfo[], sink: { durable: boolean }): PathGuarantee {
  const from = source.kind === 'stream' ? `${source.stream ?? '?'} (${source.subject})` : source.subject;
  const polled = source.kind === 'poll';
  if (!polled && source.kind !== 'stream') {
    const because = source.subject.startsWith('schedule:')
      ? 'schedule without catch-up: runs missed while down (or cut by a crash) are not run again'
      : 'core NATS subject: nothing to redeliver';
    return { from, guarantee: 'at-most-once', because };
  }
  const weak = stages.find((s) => s.effect === 'weakens');
  if (weak !== undefined) return { from, guarantee: 'at-most-once', because: `${weak.name} acknowledges before its downstream effects` };
  if (source.kind === 'stream' && source.ordered === true) return { from, guarantee: 'at-least-once', because: ORDERED_READ };
  if (!sink.durable)
    return {
      from,
      guarantee: 'at-least-once',
      because: polled ? 'position saved after the core publish; a re-read publishes again' : 'settled after the core publish; a redelivery publishes again',
    };
  const group = stages.find((s) => s.effect === 'groups' && s.recorded !== true);
  if (group !== undefined) return { from, guarantee: 'at-least-once', because: `${group.name} groups are not recorded, so a replay may regroup under new ids` };
  if (polled && source.replayStable !== true)
    return {
      from,
      guarantee: 'at-least-once',
      because: source.subject.startsWith('schedule:')
        ? "catch-up 'once': the runs missed while down are run as one, and a run cut by a crash again, so outputs get no deterministic ids"
        : 'a re-read from the same position may return other items, so outputs get no deterministic ids',
    };
  return {
    from,
    guarantee: 'exactly-once',
    because: polled
      ? 'output ids derive from the read position; re-publishes fall in the duplicate window'
      : 'output ids derive from input positions; re-publishes fall in the duplicate window',
  };
}

/** Why an ordered stream read is at-least-once (its path, and its input in the contract). */
export const ORDERED_READ = 'ordered read: nothing is acknowledged, and every start reads again from startSeq, so what was done before a crash is done again';
