import { Counter, Gauge, type Registry } from 'prom-client';
import type { PartReading, PartState } from '../observe/part-stats.js';
import type { RuntimeStats } from '../observe/runtime-stats.js';
import { lagOf } from './topology-stats.js';

const STATES: readonly PartState[] = ['starting', 'running', 'completed', 'failed'];
const LABELS = ['part', 'kind'] as const;

/**
 * Registers the per-part series of `GET /metrics`, labelled `part` (its unique name: `stream
 * SHOP_ORDERS`, `actor stock`, ...) and `kind`: what `sluice stats` shows, for a dashboard or an
 * alert. Engines (actors, durable batches and windows) publish through their outbox, not a sink,
 * so their outputs, dead letters, outbox and lag are seen here and not in the per-subject
 * series. Read from the parts at scrape time (the lag asks the broker then, 2 s at most), so
 * nothing is added per event; a part's labels are fixed by the topology, so the series are few.
 */
export function registerPartMetrics(registry: Registry, statsOf: () => RuntimeStats | undefined): void {
  const counter = (name: string, help: string, field: 'in' | 'out' | 'deadLetters'): void => {
    new Counter({
      name,
      help,
      labelNames: LABELS,
      registers: [registry],
      collect() {
        this.reset();
        for (const { kind, name: part, reading } of readings(statsOf())) this.inc({ part, kind }, reading[field]);
      },
    });
  };
  counter('sluice_part_in_total', 'Events that came into a part (messages delivered, values received, inputs read by an engine).', 'in');
  counter('sluice_part_out_total', 'Events that went out of a part (values passed on, messages published, outputs an engine committed).', 'out');
  counter('sluice_part_dead_letters_total', 'Dead letters a part wrote.', 'deadLetters');
  const gauge = (name: string, help: string, field: 'unsettled' | 'outbox' | 'actors'): void => {
    new Gauge({
      name,
      help,
      labelNames: LABELS,
      registers: [registry],
      collect() {
        this.reset();
        for (const { kind, name: part, reading } of readings(statsOf())) {
          const value = reading[field];
          if (value !== null) this.set({ part, kind }, value);
        }
      },
    });
  };
  gauge(
    'sluice_part_unsettled',
    "Messages a part holds whose effects are not complete (a stream's unacknowledged messages, an engine's outputs awaiting their ack).",
    'unsettled',
  );
  gauge('sluice_part_outbox', 'Outputs an engine committed to its outbox and JetStream has not yet acknowledged.', 'outbox');
  gauge('sluice_part_actors', 'Actors (keys) an actor part holds in memory.', 'actors');
  new Gauge({
    name: 'sluice_part_lag_messages',
    help: "Messages in a part's stream not yet delivered to it (a consumer's pending count; an engine's last stream sequence minus its committed position).",
    labelNames: LABELS,
    registers: [registry],
    async collect() {
      this.reset();
      const parts = statsOf()?.parts() ?? [];
      const lags = await Promise.all(parts.map((p) => lagOf(p)));
      for (const [i, p] of parts.entries()) {
        const lag = lags[i] ?? p.read().lag;
        if (lag !== undefined && lag !== null) this.set({ part: p.name, kind: p.kind }, lag);
      }
    },
  });
  new Gauge({
    name: 'sluice_part_state',
    help: "A part's state: 1 on the label `state` it is in (starting, running, completed, failed), 0 on the others.",
    labelNames: [...LABELS, 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { kind, name: part, reading } of readings(statsOf()))
        for (const state of STATES) this.set({ part, kind, state }, reading.state === state ? 1 : 0);
    },
  });
}

function readings(stats: RuntimeStats | undefined): { kind: string; name: string; reading: PartReading }[] {
  return (stats?.parts() ?? []).map((p) => ({ kind: p.kind, name: p.name, reading: p.read() }));
}
