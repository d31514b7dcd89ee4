import { accessSync, constants, mkdirSync, statSync, statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { StateDirectoryError, UnsupportedStateDirectoryError } from './state-errors.js';

// Kernel pseudo-filesystems (statfs f_type): no files LMDB can memory-map and lock. Creating a
// directory on /proc with Node's recursive mkdir loops forever at 100% CPU, deaf to signals,
// so they are refused before any mkdir.
const PSEUDO_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x1cd1, 'devpts'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x6165676c, 'pstore'],
  [0xcafe4a11, 'bpf'],
  [0x62656570, 'configfs'],
  [0xde5e81e4, 'efivarfs'],
  [0x65735543, 'fusectl'],
  [0x19800202, 'mqueue'],
  [0x6e736673, 'nsfs'],
  [0x958458f6, 'hugetlbfs'],
]);

/**
 * Makes sure `dir` is a directory LMDB can keep a store in: creates it (and missing parents)
 * one level at a time, and checks that it is readable and writable.
 *
 * @throws UnsupportedStateDirectoryError when it is (or would be) on a kernel pseudo-filesystem;
 * StateDirectoryError when it is a file, under a file, cannot be created or is not writable.
 */
export function prepareStateDirectory(dir: string): void {
  const absolute = resolve(dir);
  const existing = nearestExisting(dir, absolute);
  checkFilesystem(dir, existing);
  if (existing !== absolute) createDownTo(dir, existing, absolute);
  try {
    accessSync(absolute, constants.W_OK | constants.R_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EROFS' ? 'it is on a read-only filesystem' : `it is not writable (${code ?? 'access denied'})`;
    throw new StateDirectoryError(dir, `${why}: make it writable for this user, or set SLUICE_STATE_DIR to a writable directory`, { cause: err });
  }
}

/** The path itself when it exists (and is a directory), else its nearest existing ancestor. */
function nearestExisting(dir: string, absolute: string): string {
  for (let path = absolute; ; path = dirname(path)) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && dirname(path) !== path) continue;
      if (code === 'ENOTDIR') throw new StateDirectoryError(dir, 'cannot create it (a parent path is a file)', { cause: err });
      throw new StateDirectoryError(dir, `cannot stat '${path}' (${code ?? (err as Error).message})`, { cause: err });
    }
    if (isDirectory) return path;
    throw new StateDirectoryError(dir, path === absolute ? 'it is a file, not a directory' : 'cannot create it (a parent path is a file)');
  }
}

function checkFilesystem(dir: string, existing: string): void {
  let type: number;
  try {
    type = Number(statfsSync(existing).type);
  } catch {
    return; // statfs unsupported here: LMDB's own open will say what is wrong
  }
  const name = PSEUDO_FILESYSTEMS.get(type);
  if (name !== undefined) throw new UnsupportedStateDirectoryError(dir, name);
}

function createDownTo(dir: string, existing: string, absolute: string): void {
  const missing: string[] = [];
  for (let path = absolute; path !== existing; path = dirname(path)) missing.unshift(path);
  for (const path of missing) {
    try {
      mkdirSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statSync(path, { throwIfNoEntry: false })?.isDirectory() === true) continue; // made meanwhile
      const why =
        code === 'ENOTDIR' || code === 'EEXIST'
          ? 'a parent path is a file'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : code === 'EROFS'
              ? 'read-only filesystem'
              : code === 'ENOSPC'
                ? 'the disk is full'
                : (code ?? (err as Error).message);
      throw new StateDirectoryError(dir, `cannot create it (${why}): create it yourself, or set SLUICE_STATE_DIR to a writable directory`, { cause: err });
    }
  }
}
