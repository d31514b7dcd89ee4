import type { Logger } from '../logger.js';
import type { Subscription } from 'rxjs';
import { ensureError } from '../errors.js';
import type { Transport } from '../transport/transport.js';
import type { RuntimeStats } from '../observe/runtime-stats.js';

/** What {@link watchConnection} needs. */
export interface WatchConnectionOptions {
  logger: Logger;
  stats: RuntimeStats;
  /** The core subjects the topology subscribes to, named in the log lines (read at each event). */
  coreSubjects: () => readonly string[];
}

/**
 * Logs and counts each broker outage. Core NATS keeps nothing for a subscriber that is away, so
 * what a core-subject source missed cannot be counted: the lines and `stats.connection` state the
 * window instead (disconnected at, reconnected at, how long). JetStream sources lose nothing.
 *
 * @returns undefined when the transport cannot lose its connection (the in-process one).
 */
export function watchConnection(transport: Transport, options: WatchConnectionOptions): Subscription | undefined {
  const { logger, stats } = options;
  return transport.connectionEvents?.().subscribe({
    next: (event) => {
      const coreSources = options.coreSubjects();
      if (event.type === 'disconnected') {
        stats.recordDisconnect(event.atMs);
        logger.warn(
          { server: event.server, disconnectedAt: new Date(event.atMs).toISOString(), coreSources },
          coreSources.length > 0
            ? 'disconnected from the broker: core-subject sources miss whatever is published until the reconnect (JetStream sources resume where they were)'
            : 'disconnected from the broker: reconnecting (JetStream sources resume where they were)',
        );
        return;
      }
      stats.recordReconnect(event.atMs);
      const window = {
        disconnectedAt: new Date(event.disconnectedAtMs).toISOString(),
        reconnectedAt: new Date(event.atMs).toISOString(),
        downMs: event.downMs,
      };
      logger.warn(
        { server: event.server, ...window, coreSources },
        coreSources.length > 0
          ? `reconnected after ${event.downMs} ms: core-subject sources missed whatever was published from ${window.disconnectedAt} to ${window.reconnectedAt} (core NATS keeps nothing, so the count is unknown)`
          : `reconnected after ${event.downMs} ms`,
      );
    },
    error: (err: unknown) => logger.warn({ err: ensureError(err) }, 'connection status stream failed: outages are no longer logged'),
  });
}
