import { createHash } from 'node:crypto';
import { open, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/*
 * Publishing a file so that a reader sees it whole or not at all, and so that it is still there
 * after a power loss: write under a temporary name, fsync the file, rename it over the final name
 * (atomic on one filesystem, and idempotent: a re-run replaces its own file), then fsync the
 * directory so the rename itself is durable.
 */

/** Temporary names start with a dot and end in `.tmp`: `fileDrop`, `ls` and most loaders skip them. */
export function tempNameOf(fileName: string): string {
  return `.${fileName}.tmp`;
}

export function isTempName(fileName: string): boolean {
  return fileName.startsWith('.') && fileName.endsWith('.tmp');
}

/** Hex SHA-256 of `bytes`. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Writes `bytes` to `<dir>/<fileName>` through a temporary file: fsync, rename. The caller fsyncs the directory. */
export async function writeFileAtomically(dir: string, fileName: string, bytes: Uint8Array): Promise<void> {
  const temp = join(dir, tempNameOf(fileName));
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, join(dir, fileName));
}

/** Makes the renames into `dir` durable (a rename lives in the directory, not in the file). */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Removes temporary files a crash left behind that `belongs` says are ours. Safe only while no
 * other writer uses the same names (one sink per name and directory).
 */
export async function removeStaleTempFiles(dir: string, belongs: (fileName: string) => boolean): Promise<number> {
  let removed = 0;
  for (const name of await readdir(dir)) {
    if (!isTempName(name) || !belongs(name.slice(1, -'.tmp'.length))) continue;
    await unlink(join(dir, name)).catch(() => undefined);
    removed++;
  }
  return removed;
}
