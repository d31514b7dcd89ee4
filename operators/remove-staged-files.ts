import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { StagedFileManifest } from './file-sink.js';
import { syncDirectory } from './internal/staged-file-write.js';
import { stagedLoadsIn } from './internal/staged-loads.js';
import { requireFunction, requireName } from './internal/validate-config.js';

/** Config of {@link removeStagedFiles}. */
export interface RemoveStagedFilesConfig {
  /** The directory a `fileSink` or `writeStagedFiles` published in. */
  dir: string;
  /** Only the loads written under this `name` (the manifest's `sink`). Default: every load in `dir`. */
  name?: string | undefined;
  /** The loads to remove, by manifest (e.g. by `batchKey`). */
  loads: (manifest: StagedFileManifest) => boolean;
}

/**
 * Removes published loads from a directory: each load's manifest first (so a reader never takes
 * a load whose files are going), then its files, then a directory fsync. For work files a job no
 * longer needs, e.g. the parts of a batch that has committed. Resolves with the number of loads
 * removed; a file already gone is skipped, so a removal interrupted by a crash can be run again.
 *
 * ```ts
 * await removeStagedFiles({ dir: 'staging/parts', name: 'part', loads: (m) => m.batchKey < today });
 * ```
 * @throws InvalidConfigError (synchronously) for a bad option.
 */
export function removeStagedFiles(config: RemoveStagedFilesConfig): Promise<number> {
  const component = 'removeStagedFiles';
  const dir = requireName(component, 'dir', config.dir);
  const name = config.name !== undefined ? requireName(component, 'name', config.name) : undefined;
  const loads = requireFunction(component, 'loads', config.loads);
  return (async () => {
    const removing = await stagedLoadsIn(dir, { name, loads });
    for (const { manifestName, manifest } of removing) {
      for (const file of [manifestName, ...manifest.files.map((f) => f.file)]) await unlink(join(dir, file)).catch(ignoreMissing);
    }
    if (removing.length > 0) await syncDirectory(dir);
    return removing.length;
  })();
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
