import { EMPTY, map, of, toArray, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { markSource, mergeMarked, traceSources } from '../../../src/observe/lineage.js';
import type { WiringNode } from '../../../src/observe/wiring-node.js';

const node = (subject: string): WiringNode => ({ kind: 'source', subject });

describe('mergeMarked', () => {
  it('follows every lane to its source, through the merge and RxJS pipes', async () => {
    const a = markSource(of(1, 2), node('a'));
    const b = markSource(of(3), node('b'));
    const merged = mergeMarked([a.pipe(map((x) => x * 10)), b]);
    const trace = traceSources(merged.pipe(map((x) => x + 1)));
    expect(trace.sources.map((n) => n.subject).sort()).toEqual(['a', 'b']);
    expect(trace.incomplete).toBe(false);
    expect((await firstValueFrom(merged.pipe(toArray()))).sort((x, y) => x - y)).toEqual([3, 10, 20]);
  });

  it('follows a single lane to its source (RxJS merges one lane into the lane itself)', () => {
    const a = markSource(of(1), node('a'));
    const lane = a.pipe(map((x) => x));
    const trace = traceSources(mergeMarked([lane]));
    expect(trace.sources.map((n) => n.subject)).toEqual(['a']);
    // The lane itself is not marked: traced alone it still reaches its source.
    expect(traceSources(lane).sources.map((n) => n.subject)).toEqual(['a']);
  });

  it('leaves the shared EMPTY unmarked when there are no lanes', () => {
    mergeMarked([]);
    expect(traceSources(EMPTY).incomplete).toBe(true);
  });
});
