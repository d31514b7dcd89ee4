import { mkdir } from 'node:fs/promises';
import { InvalidConfigError } from '../src/errors.js';
import type { FileSinkConfig, StagedFile } from './file-sink.js';
import { requireName } from './internal/validate-config.js';
import { planStagedFiles, publishStagedFiles, validateStageConfig } from './internal/stage-files.js';

/** Config of {@link writeStagedFiles}: a `fileSink`'s, plus the load's key. */
export interface WriteStagedFilesConfig<T> extends FileSinkConfig<T> {
  /**
   * The load's identity: names its files and manifest (`<name>.<key, file-safe>.<hash>...`) and is
   * its manifest's `batchKey`. Derive it from what the load stands for (a batch's sequence), so a
   * load written again after a crash replaces its own files.
   */
  key: string;
}

/**
 * Writes one load of staged files, as `fileSink` writes a batch, from code that already holds the
 * values (a durable batch's flush, a nightly job): each file under a temporary name, fsynced and
 * renamed into place, then the manifest (files, records, bytes, SHA-256, input range), then a
 * directory fsync. Resolves with the manifest and paths once all of that is durable.
 *
 * - Holds: the files' text while writing (built whole: pass loads of a size that fits).
 * - Fails: rejects with the error of a value it cannot write (`record` or `partitionBy` throws, a
 *   bad partition, CSV without an object) before anything is written, or of the write; a failed
 *   write can leave a temporary file (`.<file>.tmp`) but never a published one that is partial.
 * - Guarantee: the same `key` and values give the same names and bytes, so a retry after a crash
 *   replaces what an earlier attempt published; readers take a load once its manifest is there.
 *
 * ```ts
 * await writeStagedFiles(rows, { dir: 'staging/snapshots', format: 'ndjson', name: 'snapshot', key: `day-${batchSeq}`, partitionBy: (r) => r.table });
 * ```
 * @throws InvalidConfigError (synchronously) for a bad option.
 */
export function writeStagedFiles<T>(values: readonly T[], config: WriteStagedFilesConfig<T>): Promise<StagedFile> {
  const component = 'writeStagedFiles';
  const stage = validateStageConfig<T>(component, config);
  const dir = requireName(component, 'dir', config.dir);
  const key = requireName(component, 'key', config.key);
  if (values.length === 0) throw new InvalidConfigError(component, 'values', 'must hold at least one value: an empty load has no file');
  return (async () => {
    const plan = planStagedFiles(stage, values, key, true);
    await mkdir(dir, { recursive: true });
    return publishStagedFiles(dir, plan);
  })();
}
