import { describe, expect, it } from 'vitest';
import { PartCounters } from '../../../src/observe/part-stats.js';
import { readinessOf } from '../../../src/observe/readiness-of.js';
import { RuntimeStats } from '../../../src/observe/runtime-stats.js';

describe('readinessOf', () => {
  it('is not ready before the topology has started', () => {
    expect(readinessOf(undefined)).toEqual({ ready: false, reasons: ['the topology has not started yet'] });
  });

  it('is ready when connected and every part runs or has completed; says which part is starting or failed', () => {
    const stats = new RuntimeStats();
    const source = new PartCounters('source', 'source a.in');
    const batch = new PartCounters('pipeline', 'pipeline 1');
    stats.registerPart(source);
    stats.registerPart(batch);
    expect(readinessOf(stats)).toEqual({ ready: true, reasons: [] });
    batch.state = 'completed';
    expect(readinessOf(stats).ready).toBe(true);
    source.state = 'starting';
    expect(readinessOf(stats)).toEqual({ ready: false, reasons: ['source a.in is starting'] });
    source.state = 'failed';
    expect(readinessOf(stats)).toEqual({ ready: false, reasons: ['source a.in failed'] });
  });

  it('is not ready once the run is stopping, whatever else holds', () => {
    const stats = new RuntimeStats();
    stats.markStopping('duration');
    stats.markStopping('stopped');
    expect(stats.stopping).toBe('duration');
    expect(readinessOf(stats)).toEqual({ ready: false, reasons: ['the topology is stopping (duration) and draining'] });
  });

  it('is not ready while the broker connection is down, and again ready once it is back', () => {
    const stats = new RuntimeStats();
    stats.recordDisconnect(1_000);
    expect(readinessOf(stats, 1_250)).toEqual({ ready: false, reasons: ['the broker connection is down (for 250 ms)'] });
    stats.recordReconnect(1_400);
    expect(readinessOf(stats, 1_500)).toEqual({ ready: true, reasons: [] });
  });
});
