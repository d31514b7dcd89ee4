import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { ModeResult } from './run-mode.js';

const PERCENTILES = ['p50', 'p90', 'p99'] as const;

/** One point of the chart: a sweep step's latency percentile at its delivered throughput. */
export interface ChartPoint {
  mode: string;
  percentile: (typeof PERCENTILES)[number];
  throughput: number;
  latencyMs: number;
  saturated: boolean;
}

export function chartPoints(modes: readonly ModeResult[]): ChartPoint[] {
  const points: ChartPoint[] = [];
  for (const m of modes) {
    for (const step of m.sweep) {
      if (step.latency.count === 0) continue;
      for (const p of PERCENTILES) {
        points.push({ mode: m.name, percentile: p, throughput: step.deliveredRate, latencyMs: Math.max(0.01, step.latency[p]), saturated: step.saturated });
      }
    }
  }
  return points;
}

/** The vega-lite spec: latency percentiles vs delivered throughput, one panel per percentile, log-log. */
export function latencyChartSpec(points: readonly ChartPoint[], title: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: 'freshness = output received − publish stamp; hollow points are saturated steps' },
    data: { values: points as unknown as Record<string, unknown>[] },
    facet: { column: { field: 'percentile', type: 'ordinal', sort: [...PERCENTILES], title: null } },
    spec: {
      width: 300,
      height: 260,
      layer: [
        { mark: { type: 'line', strokeWidth: 1.5 } },
        { transform: [{ filter: '!datum.saturated' }], mark: { type: 'point', size: 40, filled: true } },
        { transform: [{ filter: 'datum.saturated' }], mark: { type: 'point', size: 60, filled: false, strokeWidth: 1.5 } },
      ],
      encoding: {
        x: { field: 'throughput', type: 'quantitative', scale: { type: 'log' }, title: 'delivered events/s (log)' },
        y: { field: 'latencyMs', type: 'quantitative', scale: { type: 'log' }, title: 'latency, ms (log)' },
        color: { field: 'mode', type: 'nominal', title: 'mode' },
        order: { field: 'throughput', type: 'quantitative' },
      },
    },
    resolve: { scale: { y: 'shared', x: 'shared' } },
    config: { font: 'sans-serif', background: 'white' },
  };
}

/** Renders the chart to an SVG string with vega's headless view (no browser, no canvas). */
export async function renderLatencyChart(modes: readonly ModeResult[], title: string): Promise<string> {
  const vgSpec = compile(latencyChartSpec(chartPoints(modes), title)).spec;
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
