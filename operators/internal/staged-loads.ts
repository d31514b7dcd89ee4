import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StagedFileManifest } from './stage-files.js';

/** Which loads of a directory a reader or remover takes: by sink name, then by manifest. */
export interface StagedLoadSelection {
  readonly name: string | undefined;
  readonly loads: ((manifest: StagedFileManifest) => boolean) | undefined;
}

/**
 * The published loads in `dir` that `select` takes, by manifest file name: a load counts once its
 * manifest is there (temporary files start with a dot and are skipped). A directory that does not
 * exist holds none.
 */
export async function stagedLoadsIn(dir: string, select: StagedLoadSelection): Promise<Array<{ manifestName: string; manifest: StagedFileManifest }>> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const found: Array<{ manifestName: string; manifest: StagedFileManifest }> = [];
  for (const manifestName of names.filter((f) => f.endsWith('.manifest.json') && !f.startsWith('.')).sort()) {
    const manifest = JSON.parse(await readFile(join(dir, manifestName), 'utf8')) as StagedFileManifest;
    if (select.name !== undefined && manifest.sink !== select.name) continue;
    if (select.loads !== undefined && !select.loads(manifest)) continue;
    found.push({ manifestName, manifest });
  }
  return found;
}
