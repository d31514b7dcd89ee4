import { createReadStream } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import { createInterface } from 'node:readline';
import { Observable } from 'rxjs';
import { requireName } from './internal/validate-config.js';

/** Config for {@link fileLines}. */
export interface FileLinesConfig {
  /** The file to read, or its name inside `dir`. */
  path: string;
  /** Directory `path` is inside of. Default: `path` is used as given. */
  dir?: string | undefined;
  /** Emit blank (whitespace-only) lines too. Default false: they are skipped, their numbers still counted. */
  keepBlank?: boolean | undefined;
}

/** `fileLines` was given a `path` that leaves its `dir` (absolute, or with `..`): a file name from an event must not reach other files. */
export class FileOutsideDirError extends Error {
  override readonly name = 'FileOutsideDirError';
  constructor(
    readonly dir: string,
    readonly path: string,
  ) {
    super(`fileLines: path ${JSON.stringify(path)} is outside dir ${JSON.stringify(dir)}`);
  }
}

/** One line of a text file. */
export interface FileLine {
  /** 1-based line number in the file, counting skipped blank lines, so an error can point at it. */
  readonly line: number;
  /** The line without its line ending (`\n` or `\r\n`). */
  readonly text: string;
}

/**
 * Reads a text file line by line (UTF-8), for imports triggered by an event ("file received"):
 * `settleMap({ project: (e) => fileLines({ dir: inbox, path: e.data.name }).pipe(...) })`.
 *
 * - Emits: each line in file order, with its number, then completes at the end of the file. The
 *   order and numbers are the same on every read of the same file, so outputs given ids from the
 *   triggering event and the line number are replay-stable.
 * - Holds: one read chunk (64 KiB) and the current line; it does not wait for slow subscribers.
 * - Fails: errors with the filesystem's error (a missing file: `ENOENT`, naming the path); with
 *   {@link FileOutsideDirError} when `dir` is given and `path` is absolute or climbs out of it;
 *   a line that is not what the caller expects is the caller's to dead-letter, with `line`.
 * - Unsubscribing closes the file.
 *
 * @throws InvalidConfigError (synchronously) for an empty `path` or `dir`.
 */
export function fileLines(config: FileLinesConfig): Observable<FileLine> {
  const path = requireName('fileLines', 'path', config.path);
  const dir = config.dir !== undefined ? requireName('fileLines', 'dir', config.dir) : undefined;
  const keepBlank = config.keepBlank === true;
  return new Observable<FileLine>((subscriber) => {
    if (dir !== undefined && (isAbsolute(path) || normalize(path).split(/[\\/]/)[0] === '..')) {
      subscriber.error(new FileOutsideDirError(dir, path));
      return;
    }
    const file = dir !== undefined ? join(dir, path) : path;
    const input = createReadStream(file);
    const lines = createInterface({ input, crlfDelay: Infinity });
    let n = 0;
    // readline re-emits the stream's error on itself (Node >= 16): both need a listener.
    const fail = (err: Error) => subscriber.error(err);
    input.once('error', fail);
    lines.once('error', fail);
    lines.on('line', (text) => {
      n++;
      if (keepBlank || text.trim() !== '') subscriber.next({ line: n, text });
    });
    lines.once('close', () => {
      // readline also closes after a read error; the error was already sent.
      if (input.errored === null) subscriber.complete();
    });
    return () => {
      lines.close();
      input.destroy();
    };
  });
}
