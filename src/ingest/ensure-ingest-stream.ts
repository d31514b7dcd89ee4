import type { Logger } from '../logger.js';
import { InvalidConfigError } from '../errors.js';
import type { StreamInfo, Transport } from '../transport/transport.js';

/** Options for {@link ensureIngestStream}. */
export interface IngestStreamOptions {
  /** Stream created (or extended) for route subjects no stream captures yet. */
  name: string;
  subjects: readonly string[];
  /**
   * The window applied when this call creates the stream or adds subjects to it, ms. It must
   * cover `minDuplicateWindowMs`, and should cover how late senders retry after a lost answer.
   */
  duplicateWindowMs: number;
  /** The shortest window that keeps the replay guarantee (the timestamp tolerance), ms. */
  minDuplicateWindowMs: number;
  logger: Logger;
}

/**
 * Makes sure a stream captures every route subject, creating stream `name` for the ones none
 * does, and that each capturing stream remembers message ids at least as long as the timestamp
 * tolerance: a signed request replayed while its timestamp is fresh is then dropped as a
 * duplicate, and one replayed later is refused as stale, so no replay is recorded twice.
 *
 * @throws InvalidConfigError when a stream's duplicate window is shorter than that.
 */
export async function ensureIngestStream(transport: Transport, options: IngestStreamOptions): Promise<StreamInfo[]> {
  const missing: string[] = [];
  for (const subject of options.subjects) if ((await transport.findStream(subject)) === undefined) missing.push(subject);
  if (missing.length > 0) {
    await transport.ensureStream({ name: options.name, subjects: missing, duplicateWindowMs: options.duplicateWindowMs });
    options.logger.info({ stream: options.name, subjects: missing, duplicateWindowMs: options.duplicateWindowMs }, 'stream ready for webhook subjects');
  }
  const streams = new Map<string, StreamInfo>();
  for (const subject of options.subjects) {
    const info = await transport.findStream(subject);
    if (info === undefined) throw new InvalidConfigError('ingest', 'stream', `no stream captures subject '${subject}' after creating '${options.name}'`);
    if (info.duplicateWindowMs < options.minDuplicateWindowMs) {
      throw new InvalidConfigError(
        'ingest',
        'duplicateWindowMs',
        `of stream '${info.name}' (capturing '${subject}') is ${info.duplicateWindowMs} ms, shorter than the timestamp tolerance ${options.minDuplicateWindowMs} ms: a replayed request could be recorded twice; raise the stream's duplicate window or lower the tolerance`,
      );
    }
    streams.set(info.name, info);
  }
  return [...streams.values()];
}
