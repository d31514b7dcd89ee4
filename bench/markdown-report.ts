import { referenceStep, type BenchResult } from './bench-result.js';
import type { ModeResult, StepResult } from './run-mode.js';
import { fraudCheckMarkdown } from './fraud-check-latency.js';

/** The human report of a run, built only from its JSON document (so both always agree). */
export function markdownReport(r: BenchResult, chartFile: string): string {
  const plan = r.plan;
  const rate = plan.referenceRate.toLocaleString('en');
  const byName = new Map(r.modes.map((m) => [m.name, m]));
  const mb100 = byName.get('micro-batch-100ms');
  const triggered = r.modes.find((m) => m.style === 'triggered');
  const columns = [byName.get('route'), mb100, triggered].map((c) => (c?.error === undefined ? c : undefined));
  const lines: string[] = [];
  const push = (...l: string[]) => lines.push(...l);

  push(`# Sluice benchmark (${r.preset} run)`, '');
  push(`- Date: ${r.date}; commit \`${r.commit}\`; took ${Math.round(r.durationS)} s`);
  push(`- Command: \`${r.command}\``);
  const m = r.machine;
  push(`- Machine: ${m.cores} cores, ${m.cpuModel}, ${m.memGiB} GiB RAM, ${m.os}; Node ${m.node}; nats-server ${m.natsServer}`);
  push(
    `- Load average (1 min) before the run / at its end: ${m.loadAvgStart} / ${m.loadAvgEnd} (the bench itself keeps about 2-3 processes busy).${noise(m.loadAvgStart, m.cores)}`,
  );
  push(
    `- Payloads: order events of ${plan.minBytes}-${plan.maxBytes} bytes (MessagePack), one routing rule with four targets; one private nats-server for the whole run.`,
    '',
  );

  push(`## The article's table, measured`, '');
  push(
    `Measured at ${rate} events/s offered unless said otherwise. Freshness = time from the publish stamp in the event to the output reaching a subscriber.`,
    '',
  );
  push(`| Factor | Real-time (\`route\`) | Near-real-time (${mb100?.name ?? 'micro-batch'}) | Batch (${triggered?.name ?? 'triggered'}) | How |`);
  push('|---|---|---|---|---|');
  push(`| Data freshness | ${columns.map((c) => freshness(referenceStep(c, plan))).join(' | ')} | p50 / p99, ms |`);
  push(
    `| Infrastructure cost: CPU | ${columns.map((c) => fmt(referenceStep(c, plan)?.cpuSecPerMillion, ' s')).join(' | ')} | processor CPU seconds per million events (user+system, own process) |`,
  );
  push(`| Infrastructure cost: memory | ${columns.map((c) => fmt(c?.peakRssMiB, ' MiB')).join(' | ')} | processor peak RSS over the whole mode |`);
  push(
    `| Infrastructure cost: messages | ${columns.map((c) => fmt(referenceStep(c, plan)?.natsMsgsPerEvent)).join(' | ')} | NATS messages in+out of the processor per event |`,
  );
  push(`| Infrastructure cost: storage | ${columns.map((c) => fmt(referenceStep(c, plan)?.lmdbCommitsPerEvent)).join(' | ')} | LMDB commits per event |`);
  push(`| Sustained throughput | ${columns.map((c) => fmt(c?.sustainedRate, ' ev/s')).join(' | ')} | highest rate delivered without saturating |`);
  for (const factor of ['Complexity', 'Error handling', 'System coupling', 'Testing difficulty']) {
    push(`| ${factor} | not measurable | not measurable | not measurable | a benchmark cannot measure it; see the topologies and tests |`);
  }
  push('');

  push('## Targets', '');
  push(
    'The targets of issue 15. Each ratio divides Sluice by its hand-written baseline measured in the same run: only values from paired rounds (medians of per-round ratios, the two sides measured alternately) and the memory runs are judged; a value from the sweeps alone is shown but not judged.',
    '',
  );
  push('| Target | Value | Met | From |', '|---|---|---|---|');
  for (const t of r.targets) {
    push(
      `| ${t.goal} | ${t.value === null ? 'n/a' : fmt(t.value)} | ${t.met === null ? 'not judged' : t.met ? 'yes' : '**no**'} | ${cell(`${t.source}: ${t.detail}`)} |`,
    );
  }
  push('');
  const eo = r.exactlyOnce != null && !('error' in r.exactlyOnce) ? r.exactlyOnce : undefined;
  if (r.paired.length > 0 || eo !== undefined) {
    push('### Paired rounds', '');
    push(
      'The targets compare two modes run side by side in two processes and measured alternately (A, B, A, B...), so load from other work on the machine hits both alike; each ratio is the median of the per-round ratios. The exactly-once row is bench/exactly-once.bench.ts, whose every run measures the raw loop then the engine on the same stream (one process, its own nats-server).',
      '',
    );
    push('| A vs B | At | Rounds | throughput A÷B | ev per CPU-s A÷B | CPU/event A÷B | p99 A÷B | p99 A / B ms |', '|---|---|---|---|---|---|---|---|');
    for (const p of r.paired) {
      push(
        `| ${p.a} vs ${p.b} | ${p.kind === 'capacity' ? 'capacity (closed loop)' : `${fmt(p.rate)} ev/s`} | ${p.rounds} | ${fmt(p.throughputRatio)} | ${fmt(p.efficiencyRatio)} | ${fmt(p.cpuRatio)} | ${fmt(p.p99Ratio)} | ${fmt(p.p99A)} / ${fmt(p.p99B)} |`,
      );
    }
    if (eo !== undefined) {
      push(
        `| exactly-once engine vs raw consume + publish with ids | ${fmt(eo.events)}-event backlog | ${eo.rounds.length} | ${fmt(eo.throughputRatio)} (${fmt(eo.sluiceEventsPerSec)} / ${fmt(eo.roofEventsPerSec)} ev/s) | ${fmt(eo.cpuRatio > 0 ? 1 / eo.cpuRatio : undefined)} | ${fmt(eo.cpuRatio)} | | |`,
      );
    }
    push('');
  }

  push(...atLeastOnceSection(r));
  if (r.fraudCheck !== undefined) push(...fraudCheckMarkdown(r.fraudCheck));

  push(`## Every mode at ${rate} events/s, beside its baseline`, '');
  push(
    'Ratios divide by the mode\'s baseline measured in the same run (the hand-written forwarder on the raw NATS client for core-subject modes, the hand-written pull consume + ack loop for the modes that read a JetStream stream): throughput ratio > 1 is faster, CPU ratio < 1 is cheaper. "ev per CPU-s" is events per second of processor CPU at its busiest unsaturated step: what it would sustain with a core to itself. Sustained throughput on 2 shared cores is also bounded by the driver and nats-server, so when two modes reach the same sustained rate, compare this column.',
    '',
  );
  push(
    '| Mode | p50 ms | p90 ms | p99 ms | max ms | CPU s/M ev | CPU ×base | RSS MiB | msgs/ev | LMDB commits/ev | sustained ev/s | throughput ×base | ev per CPU-s | efficiency ×base |',
  );
  push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const mode of r.modes) {
    const s = referenceStep(mode, plan);
    const c = r.comparisons.find((x) => x.mode === mode.name);
    if (mode.error !== undefined) {
      push(`| ${mode.name} | did not run: ${mode.error.replace(/\|/g, '/').slice(0, 160)} ||||||||||||| `);
      continue;
    }
    push(
      `| ${mode.name} | ${fmt(s?.latency.p50)} | ${fmt(s?.latency.p90)} | ${fmt(s?.latency.p99)} | ${fmt(s?.latency.max)} | ${fmt(s?.cpuSecPerMillion)} | ${fmt(c?.cpuRatio ?? undefined)} | ${fmt(mode.peakRssMiB)} | ${fmt(s?.natsMsgsPerEvent)} | ${fmt(s?.lmdbCommitsPerEvent)} | ${fmt(mode.sustainedRate)} | ${fmt(c?.throughputRatio ?? undefined)} | ${fmt(mode.eventsPerCpuSecond)} | ${fmt(c?.efficiencyRatio ?? undefined)} |`,
    );
  }
  push('');

  push('## Raw baselines beside Sluice', '');
  push('| Work | Raw | ev/s | Sluice | ev/s | Sluice ÷ raw | CPU µs/ev raw / Sluice | LMDB commits/ev |', '|---|---|---|---|---|---|---|---|');
  for (const b of r.baselines) {
    const cpu = b.cpuUsPerEvent === undefined ? '' : `${fmt(b.cpuUsPerEvent.raw)} / ${fmt(b.cpuUsPerEvent.sluice)}`;
    push(
      `| ${b.work} | ${b.rawLabel} | ${fmt(b.raw)} | ${b.sluiceLabel} | ${b.sluice === null ? 'n/a' : fmt(b.sluice)} | ${fmt(b.ratio ?? undefined)} | ${cpu} | ${b.lmdbCommitsPerEvent === undefined ? '' : fmt(b.lmdbCommitsPerEvent)} |`,
    );
  }
  for (const b of r.baselines) if (b.note !== undefined) push('', `${b.name}: ${b.note}.`);
  push('');

  push('## Latency vs throughput', '');
  push(`![latency percentiles vs delivered throughput per mode](${chartFile})`, '');
  push(
    `Each mode's sweep steps the offered rate up until a step saturates: output below ${plan.saturationDeliveredShare * 100}% of offered, events not out within the drain timeout, or p99 above ${plan.p99Factor}x the mode's best p99 + ${plan.p99SlackMs} ms. The capacity row is a closed-loop run (at most ${plan.capacityWindow.toLocaleString('en')} events in flight), so its latency is queueing, not freshness.`,
    '',
  );
  for (const mode of r.modes) push(...sweepTable(mode));

  push('## How this was measured', '');
  push(
    '- One process (the driver) publishes stamped events and receives every output, so both ends read the same clock; the processor under test runs alone in a child process, whose `process.cpuUsage()` (all its threads) and peak RSS are what the cost rows report. The driver and nats-server share the same cores, which is why absolute figures vary and the ratios matter more.',
    '- Every step: warm-up, wait until everything came out, mark the processor, measure, wait again, mark again. CPU per event therefore includes the idle and timer work of the mode during the step.',
    `- Steps last ${plan.measureMs} ms (at least ${plan.minFlushPeriodsPerStep} flush period(s) for timer-driven modes); numbers vary by ±15% between runs on this machine (PLATFORM-NOTES).`,
  );
  return `${lines.join('\n')}\n`;
}

/** The at-least-once path: each stream pipeline beside its hand-written loop, and the backlog drains. */
function atLeastOnceSection(r: BenchResult): string[] {
  const streamModes = r.modes.filter((m) => m.input === 'stream' && m.implementation === 'sluice');
  if (streamModes.length === 0 && r.backlog.length === 0) return [];
  const out = ['## At-least-once path (JetStream in, one output per event)', ''];
  if (streamModes.length > 0) {
    out.push(
      'Each Sluice pipeline reads a JetStream stream that captures the driver\'s subject, through `t.stream` (a durable consumer with `maxUnsettled` 1000; a message is acked once its output is published, or publish-acked for the durable sink), beside a hand-written loop on the raw client doing the same work with the same settings. "Paired" figures are medians of alternating closed-loop rounds (CPU per event measured at capacity); without paired rounds they come from the sweeps (throughput and events per CPU-s from the capacity step, CPU per event at the reference rate).',
      '',
      '| Sluice pipeline | Baseline | From | throughput ÷ baseline | ev per CPU-s ÷ baseline | CPU/event ÷ baseline | sustained ev/s Sluice / baseline |',
      '|---|---|---|---|---|---|---|',
    );
    for (const m of streamModes) {
      const p = r.paired.find((x) => x.a === m.name && x.b === m.baseline && x.kind === 'capacity');
      const c = r.comparisons.find((x) => x.mode === m.name);
      const base = r.modes.find((x) => x.name === m.baseline);
      out.push(
        `| ${m.name}: ${m.label} | ${m.baseline} | ${p !== undefined ? `paired, ${p.rounds} rounds` : 'sweeps'} | ${fmt(p?.throughputRatio ?? c?.throughputRatio)} | ${fmt(p?.efficiencyRatio ?? c?.efficiencyRatio)} | ${fmt(p?.cpuRatio ?? c?.cpuRatio)} | ${fmt(m.sustainedRate)} / ${fmt(base?.sustainedRate)} |`,
      );
    }
    out.push('');
  }
  if (r.backlog.length > 0) {
    out.push(
      `### Backlog drained by \`${r.backlog[0]!.mode}\``,
      '',
      "The stream is filled first, then the processor starts on it. The source never has more than `maxUnsettled` messages delivered and not yet settled, so the processor's memory is bounded by that (times the event size), not by the backlog: peak RSS should not grow with the backlog size.",
      '',
      '| Backlog events | Backlog MiB | maxUnsettled | Drain s (first to last output) | ev/s | CPU s/M ev | Peak RSS MiB | RSS during the drain MiB | Drained |',
      '|---|---|---|---|---|---|---|---|---|',
    );
    for (const b of r.backlog) {
      const rss = b.rssSamplesMiB.length > 0 ? `${fmt(Math.min(...b.rssSamplesMiB))}-${fmt(Math.max(...b.rssSamplesMiB))}` : 'n/a';
      out.push(
        `| ${fmt(b.events)} | ${fmt(b.backlogMiB)} | ${fmt(b.maxUnsettled)} | ${fmt(b.drainMs / 1000)} | ${fmt(b.eventsPerSec)} | ${fmt(b.cpuSecPerMillion)} | ${fmt(b.peakRssMiB)} | ${rss} | ${b.error !== undefined ? `did not run: ${b.error.replace(/\|/g, '/')}` : b.drained ? 'yes' : '**no** (timeout)'} |`,
      );
    }
    out.push('');
  }
  return out;
}

function sweepTable(mode: ModeResult): string[] {
  const out = [`### ${mode.name}: ${mode.label}`, ''];
  if (mode.error !== undefined) return [...out, `Did not run: ${mode.error}`, ''];
  out.push('| Offered ev/s | Achieved | Delivered ev/s | p50 ms | p90 ms | p99 ms | max ms | CPU s/M ev | msgs/ev | Saturated |');
  out.push('|---|---|---|---|---|---|---|---|---|---|');
  const rows: StepResult[] = [...(mode.capacity !== undefined ? [mode.capacity] : []), ...mode.sweep];
  for (const s of rows) {
    out.push(
      `| ${s.kind === 'capacity' ? 'capacity (closed loop)' : fmt(s.targetRate)} | ${fmt(s.achievedRate)} | ${fmt(s.deliveredRate)} | ${fmt(s.latency.p50)} | ${fmt(s.latency.p90)} | ${fmt(s.latency.p99)} | ${fmt(s.latency.max)} | ${fmt(s.cpuSecPerMillion)} | ${fmt(s.natsMsgsPerEvent)} | ${s.saturated ? `yes: ${s.note ?? ''}` : 'no'} |`,
    );
  }
  out.push('');
  return out;
}

/** Text safe inside a table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '/').replace(/\n/g, ' ');
}

function freshness(s: StepResult | undefined): string {
  return s === undefined ? 'n/a' : `${fmt(s.latency.p50)} / ${fmt(s.latency.p99)} ms`;
}

function noise(start: number, cores: number): string {
  return start > cores * 0.5
    ? ' Other work was running when it started: absolute figures are noisy, compare ratios.'
    : ' The machine was quiet when it started; the cores are still shared by the driver, nats-server and the processor.';
}

/** Numbers with sensible precision: integers for big values, 3 significant digits for small. */
export function fmt(v: number | undefined | null, unit = ''): string {
  if (v === undefined || v === null || !Number.isFinite(v)) return 'n/a';
  const abs = Math.abs(v);
  const text = abs >= 1000 ? Math.round(v).toLocaleString('en') : abs >= 10 ? v.toFixed(1) : abs >= 1 ? v.toFixed(2) : v === 0 ? '0' : v.toPrecision(3);
  return `${text}${unit}`;
}
