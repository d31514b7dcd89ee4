import { describe, expect, it } from 'vitest';
import { batchModeSpecs } from '../../bench/batch-cost.bench.js';
import { batchBaselineSpecs, modeSpecs } from '../../bench/mode-registry.js';

describe('mode registry', () => {
  it('keeps the hand-written batch baselines and the floor out of the main sweep, and in batch-cost', () => {
    const baselines = batchBaselineSpecs({ triggerPeriodMs: 2000 }).map((s) => s.name);
    expect(baselines).toEqual(['raw-micro-batch-100ms', 'raw-triggered-2s', 'raw-receive-only']);
    const main = modeSpecs({ triggerPeriodMs: 2000 }).map((s) => s.name);
    for (const name of baselines) expect(main).not.toContain(name);
    const batchCost = batchModeSpecs(2000).map((s) => s.name);
    expect(batchCost).toEqual(expect.arrayContaining([...baselines, 'route', 'micro-batch-100ms', 'triggered-2s', 'triggered-2s-lmdb', 'triggered-2s-file']));
    expect(new Set(batchCost).size).toBe(batchCost.length);
  });

  it('runs the hand-written micro-batch with the settings of micro-batch-100ms, and its triggered variant on the trigger period', () => {
    const specs = batchModeSpecs(2000);
    const of = (name: string) => specs.find((s) => s.name === name)!;
    expect(of('raw-micro-batch-100ms').params).toEqual(of('micro-batch-100ms').params);
    expect(of('raw-triggered-2s').params).toMatchObject({ periodMs: of('triggered-2s').params['periodMs'] });
    expect(of('raw-triggered-2s').holdMs).toBe(of('triggered-2s').holdMs);
  });
});
