import { describe, expect, it } from 'vitest';
import { pathGuarantee } from '../../../src/observe/path-guarantee.js';
import type { WiringNode } from '../../../src/observe/wiring-node.js';

const stream: WiringNode = { kind: 'stream', subject: 'in.>', stream: 'IN' };
const ordered: WiringNode = { ...stream, ordered: true };
const core: WiringNode = { kind: 'source', subject: 'in.core' };
const durable = { durable: true };

describe('pathGuarantee', () => {
  it('a durable stream read is exactly-once into a durable sink and at-least-once into a core one', () => {
    expect(pathGuarantee(stream, [], durable).guarantee).toBe('exactly-once');
    expect(pathGuarantee(stream, [], { durable: false }).guarantee).toBe('at-least-once');
  });

  it('an ordered read is at-least-once whatever the sink: every start reads again from startSeq (crash row q)', () => {
    for (const sink of [durable, { durable: false }]) {
      const path = pathGuarantee(ordered, [], sink);
      expect(path).toEqual({ from: 'IN (in.>)', guarantee: 'at-least-once', because: expect.stringContaining('every start reads again from startSeq') });
    }
  });

  it('a stage that acknowledges before its effects makes any stream read at-most-once; a core subject is at-most-once', () => {
    const weak = [{ name: 'fireAndForget', effect: 'weakens' as const }];
    expect(pathGuarantee(ordered, weak, durable).guarantee).toBe('at-most-once');
    expect(pathGuarantee(stream, weak, durable).guarantee).toBe('at-most-once');
    expect(pathGuarantee(core, [], durable)).toEqual({ from: 'in.core', guarantee: 'at-most-once', because: 'core NATS subject: nothing to redeliver' });
  });

  it('an unrecorded group keeps a durable read at-least-once; a recorded one exactly-once', () => {
    expect(pathGuarantee(stream, [{ name: 'microBatch', effect: 'groups' }], durable).guarantee).toBe('at-least-once');
    expect(pathGuarantee(stream, [{ name: 'microBatch', effect: 'groups', recorded: true }], durable).guarantee).toBe('exactly-once');
  });
});
