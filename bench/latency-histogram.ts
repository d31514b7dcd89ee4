import * as hdr from 'hdr-histogram-js';

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** An HDR histogram of latencies, recorded in microseconds (3 significant digits, up to 1 h). */
export interface LatencyHistogram {
  /** Records one latency in ms; negative values (clock noise) count as 0. */
  record(ms: number): void;
  summary(): LatencySummary;
  reset(): void;
}

export function createLatencyHistogram(): LatencyHistogram {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
  const us = (v: number) => Math.round(v) / 1000;
  // HDR reports the top of a percentile's bucket, which can lie just above the largest value seen.
  const at = (p: number) => Math.min(h.getValueAtPercentile(p), h.maxValue);
  return {
    record: (ms) => h.recordValue(Math.min(3_600_000_000, Math.max(1, Math.round(ms * 1000)))),
    summary: () => ({
      count: h.totalCount,
      p50: us(at(50)),
      p90: us(at(90)),
      p99: us(at(99)),
      max: us(h.maxValue),
      mean: us(h.mean),
    }),
    reset: () => h.reset(),
  };
}
