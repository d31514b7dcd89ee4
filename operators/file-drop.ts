import { access, mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { defer, from, Observable, type SchedulerLike } from 'rxjs';
import { ensureError, InvalidConfigError } from '../src/errors.js';
import { markSource } from '../src/observe/lineage.js';
import { operatorCounters, receivedCounter, unregistered } from '../src/observe/operator-stats.js';
import { withSettlement } from '../src/settle/settle-scope.js';
import { Settlement } from '../src/settle/settlement.js';
import { globToRegExp } from './internal/glob-to-reg-exp.js';
import { optionalInt, optionalNumber, requireName } from './internal/validate-config.js';
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
  /** Files emitted and not yet moved (or left for retry), at most; scanning skips new files until one finishes. Default 1. */
  maxInFlight?: number | undefined;
  /**
   * When a file counts as processed:
   * - `'settled'` (default): when the effects of its emission are complete — its settlement
   *   settles (settle-aware stages downstream: `settleMap`, a durable sink, `batchUntil`).
   * - `'explicit'`: when `complete()` is called AND those effects are complete; for code that
   *   processes the file in a stage Sluice cannot see (`concatMap` over a promise).
   */
  completion?: 'settled' | 'explicit' | undefined;
  /**
   * Attempts of a file whose effects failed before it goes to `failedDir`: until then it stays in
   * the directory and is emitted again at the next scan. `fail(err)` is final at once. Integer
   * >= 1, default 3 (counted per process run).
   */
  maxAttempts?: number | undefined;
  /**
   * Names this source in settlement keys and `describe`. With a name, a file's key
   * (`fileDrop:<name>:<file>:<size>:<mtimeMs>`) is replay-stable: outputs of a file processed
   * again after a crash get the same ids and a durable sink drops them as duplicates.
   */
  name?: string | undefined;
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

/** A complete file that arrived in the drop directory. */
export interface DroppedFile {
  /** Always `'file.received'`, so the event works as an `onSubject` trigger. */
  readonly subject: 'file.received';
  readonly path: string;
  readonly name: string;
  readonly size: number;
  readonly mtimeMs: number;
  /** 1, then 2, 3, ... when the effects of an earlier emission of this file failed. */
  readonly attempt: number;
  /**
   * Resolves with where the file ended once its effects are complete: `doneDir` (or `failedDir`
   * when they failed for the last time, or its path in the directory when it will be retried).
   * With `completion: 'explicit'`, calling it is what lets the file complete. Idempotent.
   */
  complete(): Promise<string>;
  /**
   * Final failure: the file goes to `failedDir` with `<name>.error.json` (the error) once the
   * effects in flight are complete, without further attempts; resolves with its new path.
   * Idempotent; the first of `complete`/`fail` decides.
   */
  fail(error: unknown): Promise<string>;
}

// Partial writes by convention: dot files, editor backups and download/copy temp names.
const TEMP_NAME = /^\.|~$|\.(tmp|temp|partial|part|crdownload|swp)$/i;

/**
 * A source of files dropped into `dir`: emits a {@link DroppedFile} for each complete file
 * (written elsewhere, then renamed in; temp and dot files are ignored), oldest first, each in its
 * own settlement scope, and moves it to `doneDir` once the effects of what it emitted are
 * complete.
 *
 * - Emits: on each scan (every `pollMs`), new files up to `maxInFlight` unfinished ones.
 * - Holds: the names of files in flight.
 * - Guarantee: at-least-once. A file leaves the directory only after its effects are complete
 *   (settle-aware stages downstream hold it; with `completion: 'explicit'` also until
 *   `complete()`). Files still in `dir` after a restart (in flight when the process stopped) are
 *   emitted again. A bare async stage (`concatMap` over a promise) does not hold it: use
 *   `settleMap`, or `completion: 'explicit'`.
 * - Fails: when an effect fails, the file stays and is emitted again at the next scan, up to
 *   `maxAttempts`; then — or at once after `fail(err)`, or when a stage throws on it under
 *   `'resume'` supervision (`failedDir` is a file's dead letters) — it goes to `failedDir` with
 *   an error record. A failed scan is retried on the next tick and reported to `onError`; after
 *   `maxConsecutiveFailures` in a row the source errors. A failed move rejects the promise of
 *   `complete()`/`fail()` and leaves the file in flight (not emitted again until restart).
 *
 * ```ts
 * fileDrop('/srv/inbox', { pattern: '*.csv' }).pipe(
 *   settleMap({ name: 'import', project: (file) => importCsv(file.path) }),
 * )
 * ```
 * @throws InvalidConfigError at creation for a bad option.
 */
export function fileDrop(dir: string, config: FileDropConfig = {}): Observable<DroppedFile> {
  const c = 'fileDrop';
  requireName(c, 'dir', dir);
  const pollMs = optionalNumber(c, 'pollMs', config.pollMs, 0) ?? 1000;
  const maxInFlight = optionalInt(c, 'maxInFlight', config.maxInFlight, 1) ?? 1;
  const maxAttempts = optionalInt(c, 'maxAttempts', config.maxAttempts, 1) ?? 3;
  const settleMs = optionalNumber(c, 'settleMs', config.settleMs, 0) ?? 0;
  const completion = config.completion ?? 'settled';
  if (completion !== 'settled' && completion !== 'explicit')
    throw new InvalidConfigError(c, 'completion', `must be 'settled' or 'explicit', got ${String(completion)}`);
  if (config.name !== undefined) requireName(c, 'name', config.name);
  const pattern = toPattern(config.pattern);
  const doneDir = config.doneDir ?? join(dir, 'done');
  const failedDir = config.failedDir ?? join(dir, 'failed');
  // in = out: files emitted (again after a failed attempt); deadLetters: files moved to failed/; unsettled: files being handled.
  const counters = operatorCounters(`fileDrop ${config.name ?? dir}`, 'source');
  counters.unsettled = 0;
  const subject = `fileDrop:${config.name ?? dir}`;
  const received = receivedCounter(subject);

  const files = defer(() => {
    const inFlight = new Set<string>();
    const attempts = new Map<string, number>();
    let dirsReady = false;

    const moveOut = async (name: string, to: string): Promise<string> => {
      const target = await freeName(to, name);
      await rename(join(dir, name), target);
      inFlight.delete(name);
      counters.unsettled = inFlight.size;
      attempts.delete(name);
      return target;
    };
    const moveToFailed = async (name: string, error: Error, attempt: number): Promise<string> => {
      const target = await moveOut(name, failedDir);
      counters.deadLetters++;
      const record = {
        file: name,
        movedTo: target,
        failedAt: new Date().toISOString(),
        attempts: attempt,
        error: { name: error.name, message: error.message },
      };
      await writeFile(`${target}.error.json`, JSON.stringify(record, null, 2));
      return target;
    };

    /** The file as emitted, with its settlement: it settles when the emission's effects are complete. */
    const emit = (name: string, size: number, mtimeMs: number, next: (file: DroppedFile) => void): void => {
      const attempt = (attempts.get(name) ?? 0) + 1;
      attempts.set(name, attempt);
      let final: Error | undefined;
      let resolve!: (path: string) => void;
      let reject!: (err: unknown) => void;
      const outcome = new Promise<string>((res, rej) => ((resolve = res), (reject = rej)));
      // Nobody may be waiting for the outcome (completion 'settled'): a failed move must not crash the process.
      outcome.catch(() => undefined);
      const key = config.name === undefined ? undefined : `fileDrop:${config.name}:${name}:${size}:${mtimeMs}`;
      const settlement = new Settlement(key ?? `fileDrop:${name}`, key !== undefined, (failure, how) => {
        const error = final ?? failure;
        let moved: Promise<string>;
        if (error === undefined) moved = moveOut(name, doneDir);
        // A stage threw on the file under 'resume' supervision: failed/ is a file's dead letters.
        else if (final !== undefined || how?.resume === true || attempt >= maxAttempts) moved = moveToFailed(name, error, attempt);
        else {
          // Left in the directory: the next scan emits it again.
          inFlight.delete(name);
          counters.unsettled = inFlight.size;
          moved = Promise.resolve(join(dir, name));
        }
        moved.then(resolve, reject);
      });
      // 'explicit': the file itself holds its settlement until complete() or fail().
      const ownHold = completion === 'explicit' && settlement.hold();
      let decided = false;
      const file: DroppedFile = {
        subject: 'file.received',
        path: join(dir, name),
        name,
        size,
        mtimeMs,
        attempt,
        complete: () => {
          if (!decided) {
            decided = true;
            if (ownHold) settlement.release();
          }
          return outcome;
        },
        fail: (thrown) => {
          if (!decided) {
            decided = true;
            if (!settlement.settled) {
              final = ensureError(thrown);
              settlement.fail(final);
            }
            if (ownHold) settlement.release();
          }
          return outcome;
        },
      };
      try {
        withSettlement(settlement, () => next(file));
      } catch (err) {
        settlement.fail(ensureError(err));
        throw err;
      } finally {
        settlement.release();
      }
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
      const found: { name: string; size: number; mtimeMs: number }[] = [];
      for (const entry of candidates) {
        // A file may be moved away between readdir and stat (another instance): skip it.
        const info = await stat(join(dir, entry.name)).catch(() => undefined);
        if (info === undefined || !info.isFile() || now - info.mtimeMs < settleMs) continue;
        found.push({ name: entry.name, size: info.size, mtimeMs: info.mtimeMs });
      }
      found.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const items = found.slice(0, room);
      for (const f of items) inFlight.add(f.name);
      counters.unsettled = inFlight.size;
      return { items, cursor: null };
    };

    const scans = unregistered(() =>
      poll(() => from(scan()), {
        everyMs: pollMs,
        cursor: { initial: null },
        maxConsecutiveFailures: config.maxConsecutiveFailures,
        onError: config.onError,
        scheduler: config.scheduler,
      }),
    );
    return new Observable<DroppedFile>((subscriber) =>
      scans.subscribe({
        next: (f) => {
          counters.in++;
          counters.out++;
          received();
          emit(f.name, f.size, f.mtimeMs, (file) => subscriber.next(file));
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      }),
    );
  });
  return markSource(files, { kind: 'poll', subject, name: config.name, replayStable: config.name !== undefined });
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
    const taken = await access(candidate).then(
      () => true,
      () => false,
    );
    if (!taken) return candidate;
  }
}
