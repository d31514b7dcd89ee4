import cliProgress from 'cli-progress';

/** Progress of a run: a bar on stderr when it is a terminal, plain lines otherwise, or nothing. */
export interface Progress {
  step(label: string): void;
  /** One unit of work done (a mode or a baseline). */
  tick(summary: string): void;
  stop(): void;
}

export function createProgress(total: number, mode: 'bar' | 'lines' | 'off'): Progress {
  if (mode === 'off') return { step: () => undefined, tick: () => undefined, stop: () => undefined };
  if (mode === 'lines') {
    let done = 0;
    // Elapsed seconds on each line: where a run's time goes (docs/bench.md estimates the full run from them).
    const started = performance.now();
    return {
      step: () => undefined,
      tick: (summary) => process.stderr.write(`[${++done}/${total} ${Math.round((performance.now() - started) / 1000)} s] ${summary}\n`),
      stop: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: 'bench [{bar}] {value}/{total} | {step}', hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { step: 'starting' });
  return {
    step: (label) => bar.update({ step: label }),
    tick: (summary) => bar.increment(1, { step: summary }),
    stop: () => bar.stop(),
  };
}
