import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ensureError } from '../errors.js';
import type { Topology } from '../runtime/define-topology.js';
import { connect, type Connection } from '../runtime/connect.js';
import { runTopology, type RunningTopology, type TopologyExit } from '../runtime/run-topology.js';
import type { MetricsServer } from '../runtime/start-metrics-server.js';
import { stuckStateStores } from '../state/open-state-store.js';
import { createCliLogger, type LogFormat } from './create-cli-logger.js';
import { EXIT } from './exit-codes.js';
import { formatPartSummary, type PartSummaryBase } from './format-part-summary.js';
import { loadTopologies } from './load-topology.js';
import { natsCredentialsFromFlags, natsOptionsFromFlags, type NatsFlags } from './nats-options-from-flags.js';

/** The flags of `sluice run` (main.ts declares them). */
export interface RunFlags extends NatsFlags {
  export?: string | undefined;
  durationMs?: number | undefined;
  drainTimeoutMs?: number | undefined;
  logLevel: string;
  allowControl?: boolean | undefined;
  logFormat?: LogFormat | undefined;
  metricsPort?: number | undefined;
  metricsHost?: string | undefined;
  summaryEveryMs?: number | undefined;
}

const ENDINGS: Record<TopologyExit['reason'], string> = {
  stopped: 'stopped on request, drained',
  duration: 'stopped at --duration-ms, drained',
  completed: 'completed',
  failed: 'FAILED (see the log)',
};

/**
 * `sluice run <files...>`: loads the topology and its drivers, connects, runs them until a
 * signal, `--duration-ms`, or the topology ends, and returns the exit code. Its own module, which
 * main.ts imports only when `run` is the command, so other commands do not load the runtime.
 */
export async function runCommand(files: readonly string[], flags: RunFlags): Promise<number> {
  const logger = await createCliLogger({ level: flags.logLevel, format: flags.logFormat });
  const signals = new SignalWatch(logger, flags.drainTimeoutMs ?? 5_000);
  let connection: Connection | undefined;
  let metrics: MetricsServer | undefined;
  let summary: NodeJS.Timeout | undefined;
  let durationTimer: NodeJS.Timeout | undefined;
  let tempStateDir: string | undefined;
  try {
    const topologies = await loadTopologies(files, flags.export);
    const names = topologies.map((t) => t.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice !== undefined) throw new Error(`two modules define the topology '${twice}': each topology of one run needs its own name`);
    const [main] = topologies as [Topology, ...Topology[]];
    const nats = natsOptionsFromFlags(flags, process.env);
    connection = await connect({ nats, credentials: nats === undefined ? natsCredentialsFromFlags(flags, process.env) : undefined, logger });
    // The embedded server's streams go at exit, so the LMDB state that records positions in them goes too.
    if (connection.mode === 'embedded' && process.env.SLUICE_STATE_DIR === undefined) tempStateDir = mkdtempSync(join(tmpdir(), 'sluice-state-'));
    if (flags.metricsPort !== undefined) {
      // prom-client loads only when metrics are asked for.
      const { startMetricsServer } = await import('../runtime/start-metrics-server.js');
      metrics = await startMetricsServer({ topologyName: main.name, port: flags.metricsPort, host: flags.metricsHost, logger });
      logger.info({ url: metrics.url }, `sluice: metrics at ${metrics.url}`);
    }
    const runs: RunningTopology[] = [];
    for (const [i, topology] of topologies.entries()) {
      runs.push(
        await runTopology(topology, {
          statsObserver: i === 0 ? metrics?.observer : undefined,
          transport: connection.transport,
          logger,
          drainTimeoutMs: flags.drainTimeoutMs,
          closeTransport: false,
          allowControl: flags.allowControl === true,
          stateDir: tempStateDir,
        }),
      );
    }
    metrics?.attach(runs[0]!.stats);
    // Drivers stop first, so what they published is drained by the topology they feed.
    let stopping: Promise<unknown> | undefined;
    let why: 'duration' | undefined;
    const stopAll = (): Promise<unknown> =>
      (stopping ??= (async () => {
        for (const r of [...runs].reverse()) await r.stop();
      })());
    const drivers = names.length > 1 ? ` (with ${names.slice(1).join(', ')})` : '';
    const state = tempStateDir !== undefined ? `, state ${tempStateDir} (removed at exit)` : '';
    logger.info(
      `sluice: running ${main.name}${drivers} on ${connection.description}${state}${flags.durationMs !== undefined ? ` for ${flags.durationMs} ms` : ''} (Ctrl-C to stop)`,
    );
    if (flags.durationMs !== undefined) {
      durationTimer = setTimeout(() => {
        why = 'duration';
        void stopAll();
      }, flags.durationMs);
    }
    signals.onStop(() => void stopAll());
    const summaryEveryMs = flags.summaryEveryMs ?? (process.stderr.isTTY === true ? 5_000 : 0);
    if (summaryEveryMs > 0) {
      const startedAt = Date.now();
      const bases = new Map<string, PartSummaryBase>();
      summary = setInterval(() => {
        const now = Date.now();
        for (const r of runs) {
          const totals = r.stats.snapshot();
          const { lines, base } = formatPartSummary({
            topology: r.name,
            elapsedMs: now - startedAt,
            parts: r.stats.parts(),
            totals,
            base: bases.get(r.name),
            now,
          });
          bases.set(r.name, base);
          for (const line of lines) logger.info(line);
        }
      }, summaryEveryMs);
    }
    // Whichever ends first (the topology finished or failed, a driver failed), the others follow.
    for (const r of runs) void r.done.then((exit) => (r === runs[0] || exit.reason === 'failed' ? stopAll() : undefined));
    const exits = await Promise.all(runs.map((r) => r.done));
    clearInterval(summary);
    // What each run did in all, whatever --summary-every-ms: the last record of a run.
    for (const [i, exit] of exits.entries()) {
      const final = { topology: names[i]!, elapsedMs: exit.elapsedMs, parts: runs[i]!.stats.parts(), totals: exit.stats, now: Date.now(), final: true };
      for (const line of formatPartSummary(final).lines) logger.info(line);
    }
    let failed = false;
    for (const [i, exit] of exits.entries()) {
      const reason = exit.reason === 'stopped' && why === 'duration' ? 'duration' : exit.reason;
      failed ||= reason === 'failed';
      logger[reason === 'failed' ? 'error' : 'info'](`sluice: ${names[i]} ${ENDINGS[reason]} after ${(exit.elapsedMs / 1000).toFixed(1)} s`);
    }
    return failed ? EXIT.failed : EXIT.ok;
  } catch (err) {
    const error = ensureError(err);
    logger.fatal({ err: error }, 'could not run the topology');
    return EXIT.failed;
  } finally {
    clearInterval(summary);
    clearTimeout(durationTimer);
    await metrics?.close();
    await connection?.dispose().catch((err: unknown) => logger.error({ err: ensureError(err) }, 'closing the connection failed'));
    signals.dispose();
    exitPastStuckStores(logger);
    if (tempStateDir !== undefined) rmSync(tempStateDir, { recursive: true, force: true });
  }
}

/**
 * A store whose commit is stuck (a lock held by another process, a dead disk) would hang
 * `process.exit` in lmdb-js's exit hook, so the process ends itself with SIGKILL (exit status
 * 137). Safe: nothing was acknowledged that the stuck commit held.
 */
function exitPastStuckStores(logger: Logger): void {
  const stuck = stuckStateStores();
  if (stuck.length === 0) return;
  logger.error(
    { stores: stuck },
    `the state store in ${stuck.join(', ')} did not close (a commit is stuck: a lock held by another process, or a dead disk): ending with SIGKILL`,
  );
  process.kill(process.pid, 'SIGKILL');
}

/**
 * SIGINT/SIGTERM handling from the very start, so a signal during start-up still stops the
 * embedded server and removes its store (the default action would kill only this process).
 * The first signal drains; a second one exits at once; a drain that has not ended the process
 * after twice the drain timeout plus 2 s (a commit stuck on a lock or a dead disk, a hook that
 * never returns) exits with code 1. Leaving early is safe: nothing is acknowledged before its
 * effects are committed, so what was cut off is redelivered on the next start.
 */
class SignalWatch {
  #stop: (() => void) | undefined;
  #signalled = false;
  #deadline: NodeJS.Timeout | undefined;
  readonly #handler = (signal: NodeJS.Signals) => {
    if (this.#signalled) {
      this.logger.warn({ signal }, 'second signal: exiting without finishing the drain');
      process.exit(EXIT.interrupted);
    }
    this.#signalled = true;
    this.logger.info({ signal }, 'signal received: draining');
    const limitMs = this.drainTimeoutMs * 2 + 2_000;
    this.#deadline = setTimeout(() => {
      this.logger.error(
        { signal, limitMs },
        `stopped by ${signal} without finishing the drain after ${limitMs} ms (unacknowledged input is redelivered on the next start)`,
      );
      process.exit(EXIT.failed);
    }, limitMs);
    this.#deadline.unref();
    this.#stop?.();
  };

  constructor(
    private readonly logger: Logger,
    private readonly drainTimeoutMs: number,
  ) {
    process.on('SIGINT', this.#handler);
    process.on('SIGTERM', this.#handler);
  }

  /** Runs `stop` on the first signal, or now if one already came. */
  onStop(stop: () => void): void {
    this.#stop = stop;
    if (this.#signalled) stop();
  }

  dispose(): void {
    clearTimeout(this.#deadline);
    process.off('SIGINT', this.#handler);
    process.off('SIGTERM', this.#handler);
  }
}
