import { access, mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { defer, from, type Observable, type SchedulerLike } from 'rxjs';
import { ensureError, InvalidConfigError } from '../src/errors.js';
import { globToRegExp } from './internal/batch-glob.js';
import { optionalInt, optionalNumber, requireName } from './internal/batch-validate.js';
import { poll } from './poll.js';

/** Config for {@link fileDrop}. */
export interface FileDropConfig {
  /** File names to pick up: a glob (`'*.csv'`, `'orders-??.json'`) or a RegExp. Default: all. */
  pattern?: string | RegExp | undefined;
  /** How often the directory is scanned, ms. Default 1000. */
  pollMs?: number | undefined;
  /** Where processed files go. Default `<dir>/done`. */
  doneDir?: string | undefined;
  /** Where failed files go, each with a `<name>.error.json` beside it. Default `<dir>/failed`. */
  failedDir?: string | undefined;
  /** Files emitted and not yet completed/failed, at most; scanning skips new files until one finishes. Default 1. */
  maxInFlight?: number | undefined;
  /**
   * Only pick up files unmodified for this long, ms — for writers that do not write-then-rename.
   * Uses the file's mtime against the wall clock. Default 0 (trust the rename convention).
   */
  settleMs?: number | undefined;
  /** Consecutive failed scans before the source errors with `PollFailedError`. Default 5. */
  maxConsecutiveFailures?: number | undefined;
  /** Told about each failed scan. */
  onError?: ((error: Error, consecutiveFailures: number) => void) | undefined;
  /** Scheduler for the scan interval. Default `asyncScheduler`. */
  scheduler?: SchedulerLike | undefined;
}

/** A complete file that arrived in the drop directory. Call exactly one of `complete`/`fail`. */
export interface DroppedFile {
  /** Always `'file.received'`, so the event works as an `onSubject` trigger. */
  readonly subject: 'file.received';
  readonly path: string;
  readonly name: string;
  readonly size: number;
  readonly mtimeMs: number;
  /** Moves the file to `doneDir`; resolves with its new path. Idempotent. */
  complete(): Promise<string>;
  /** Moves the file to `failedDir` and writes `<name>.error.json` with the error; resolves with the new path. Idempotent. */
  fail(error: unknown): Promise<string>;
}

// Partial writes by convention: dot files, editor backups and download/copy temp names.
const TEMP_NAME = /^\.|~$|\.(tmp|temp|partial|part|crdownload|swp)$/i;

/**
 * A source of files dropped into `dir`: emits a {@link DroppedFile} for each complete file
 * (written elsewhere, then renamed in; temp and dot files are ignored), oldest first, and moves it
 * to `doneDir` or `failedDir` when the consumer calls `complete()` or `fail(err)`. Files still in
 * `dir` after a restart (in flight when the process stopped) are emitted again: at-least-once.
 *
 * - Emits: on each scan (every `pollMs`), new files up to `maxInFlight` unfinished ones.
 * - Holds: the names of files in flight.
 * - Fails: a failed scan is retried on the next tick and reported to `onError`; after
 *   `maxConsecutiveFailures` in a row the source errors. A failed move rejects the promise and
 *   leaves the file in flight (not re-emitted until restart).
 *
 * ```ts
 * fileDrop('/srv/inbox', { pattern: '*.csv' }).pipe(
 *   concatMap((file) => from(importCsv(file.path)).pipe(
 *     concatMap(() => file.complete()), catchError((err) => from(file.fail(err))))),
 * )
 * ```
 * @throws InvalidConfigError at creation for a bad option.
 */
export function fileDrop(dir: string, config: FileDropConfig = {}): Observable<DroppedFile> {
  const c = 'fileDrop';
  requireName(c, 'dir', dir);
  const pollMs = optionalNumber(c, 'pollMs', config.pollMs, 0) ?? 1000;
  const maxInFlight = optionalInt(c, 'maxInFlight', config.maxInFlight, 1) ?? 1;
  const settleMs = optionalNumber(c, 'settleMs', config.settleMs, 0) ?? 0;
  const pattern = toPattern(config.pattern);
  const doneDir = config.doneDir ?? join(dir, 'done');
  const failedDir = config.failedDir ?? join(dir, 'failed');

  return defer(() => {
    const inFlight = new Set<string>();
    let dirsReady = false;

    const moveOut = async (name: string, to: string): Promise<string> => {
      const target = await freeName(to, name);
      await rename(join(dir, name), target);
      inFlight.delete(name);
      return target;
    };

    const toEvent = (name: string, size: number, mtimeMs: number): DroppedFile => {
      let outcome: Promise<string> | undefined;
      return {
        subject: 'file.received',
        path: join(dir, name),
        name,
        size,
        mtimeMs,
        complete: () => (outcome ??= moveOut(name, doneDir)),
        fail: (thrown) =>
          (outcome ??= moveOut(name, failedDir).then(async (target) => {
            const error = ensureError(thrown);
            const record = { file: name, movedTo: target, failedAt: new Date().toISOString(), error: { name: error.name, message: error.message } };
            await writeFile(`${target}.error.json`, JSON.stringify(record, null, 2));
            return target;
          })),
      };
    };

    const scan = async () => {
      if (!dirsReady) {
        await Promise.all([mkdir(dir, { recursive: true }), mkdir(doneDir, { recursive: true }), mkdir(failedDir, { recursive: true })]);
        dirsReady = true;
      }
      const room = maxInFlight - inFlight.size;
      if (room <= 0) return { items: [], cursor: null };
      const entries = await readdir(dir, { withFileTypes: true });
      const candidates = entries.filter((e) => e.isFile() && !TEMP_NAME.test(e.name) && pattern.test(e.name) && !inFlight.has(e.name));
      const now = Date.now();
      const found: DroppedFile[] = [];
      for (const entry of candidates) {
        // A file may be moved away between readdir and stat (another instance): skip it.
        const info = await stat(join(dir, entry.name)).catch(() => undefined);
        if (info === undefined || !info.isFile() || now - info.mtimeMs < settleMs) continue;
        found.push(toEvent(entry.name, info.size, info.mtimeMs));
      }
      found.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const items = found.slice(0, room);
      for (const f of items) inFlight.add(f.name);
      return { items, cursor: null };
    };

    return poll(() => from(scan()), {
      everyMs: pollMs,
      cursor: { initial: null },
      maxConsecutiveFailures: config.maxConsecutiveFailures,
      onError: config.onError,
      scheduler: config.scheduler,
    });
  });
}

function toPattern(pattern: string | RegExp | undefined): RegExp {
  if (pattern === undefined) return /^/;
  if (pattern instanceof RegExp) return pattern;
  if (typeof pattern === 'string' && pattern.length > 0) return globToRegExp(pattern);
  throw new InvalidConfigError('fileDrop', 'pattern', `must be a glob string or a RegExp, got ${String(pattern)}`);
}

/** `<to>/<name>`, or `<to>/<name>.1`, `.2`, ... when a file of that name was dropped before. */
async function freeName(to: string, name: string): Promise<string> {
  const base = join(to, basename(name));
  for (let n = 0; ; n++) {
    const candidate = n === 0 ? base : `${base}.${n}`;
    const taken = await access(candidate).then(() => true, () => false);
    if (!taken) return candidate;
  }
}
