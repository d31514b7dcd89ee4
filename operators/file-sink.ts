import { mkdir } from 'node:fs/promises';
import { Observable, type OperatorFunction } from 'rxjs';
import { ensureError, InvalidConfigError } from '../src/errors.js';
import { markStage } from '../src/runtime/lineage.js';
import { holdCurrent, withSettlement } from '../src/settle/settle-scope.js';
import type { Settlement } from '../src/settle/settlement.js';
import { subscribeLinked } from './internal/batch-subscribe-linked.js';
import { requireFunction, requireName } from './internal/batch-validate.js';
import { formatRecords, type RecordFileFormat } from './internal/record-file-format.js';
import { removeStaleTempFiles, sha256Hex, syncDirectory, writeFileAtomically } from './internal/staged-file-write.js';

/** Config of {@link fileSink}. */
export interface FileSinkConfig<T> {
  /** Directory the files and manifests are published in; created when missing. */
  dir: string;
  /** `'ndjson'` (one JSON document per line) or `'csv'` (RFC 4180, header row, CRLF). */
  format: RecordFileFormat;
  /**
   * Starts every file name and names the stage (`fileSink:<name>`). Letters, digits, `-` and `_`.
   * One sink per name and directory: stale temporary files of this name are removed on start.
   */
  name: string;
  /** CSV only, required there: the columns, in order (also the header row). */
  columns?: readonly string[] | undefined;
  /** The record written for one value. Default: an envelope's `data`, any other value as it is. */
  record?: ((value: T) => unknown) | undefined;
}

/** One file entry of a manifest. */
export interface StagedFileEntry {
  /** File name in the sink's directory. */
  readonly file: string;
  readonly records: number;
  readonly bytes: number;
  /** Hex SHA-256 of the file's bytes. */
  readonly sha256: string;
}

/** What a manifest (`<file>.manifest.json`) says about one load: one batch, one file. */
export interface StagedFileManifest {
  readonly version: 1;
  readonly sink: string;
  readonly format: RecordFileFormat;
  /** The batch's settlement key (with recorded groups, the same on every replay). */
  readonly batchKey: string;
  /** Whether `batchKey` names the same inputs on every replay. */
  readonly recorded: boolean;
  readonly files: readonly StagedFileEntry[];
  /** Records in all files. */
  readonly records: number;
  /** Where the inputs came from: the stream and the first/last stream sequence of the batch's values that have one. */
  readonly inputRange: { readonly stream?: string | undefined; readonly firstSeq?: number | undefined; readonly lastSeq?: number | undefined };
}

/** Emitted once a batch's file and manifest are published and their directory entries are durable. */
export interface StagedFile extends StagedFileManifest {
  /** Absolute-or-relative path (as `dir` was given) of the data file and of the manifest. */
  readonly path: string;
  readonly manifestPath: string;
}

const NAME = /^[A-Za-z0-9_-]+$/;

/**
 * Writes each batch (an array, as `microBatch` emits it) as one staged file, NDJSON or CSV, plus
 * a manifest: the file is written under a temporary name (`.<file>.tmp`), fsynced and renamed into
 * place, then the manifest the same way, then the directory is fsynced. The file is named after the
 * batch's settlement key (`<name>.<key, made file-safe>.<hash of the key>.<ndjson|csv>`), so a
 * replay of the same recorded group writes the same name and the rename replaces it.
 *
 * - Emits: one {@link StagedFile} per batch, after the directory fsync, inside the batch's
 *   settlement (a durable sink announcing the file holds the batch until its publish ack).
 * - Holds: the batch being written plus batches waiting their turn (one write at a time, in
 *   order); over a JetStream source their inputs stay unsettled, so `maxUnsettled` bounds them.
 *   A file's text is built in memory: size batches (`maxCount`, `maxBytes`) for that.
 * - Fails: a write, fsync or rename error fails the batch's inputs (redelivered, dead-lettered
 *   after `maxDeliveries`) and the sink goes on; a value `record` throws on or that cannot be
 *   written (CSV without an object, JSON without a representation) dead-letters the batch's inputs
 *   at once (`'resume'`). Without a settling input (a plain Observable), either error ends the output.
 * - Guarantee: a batch's inputs are acknowledged only after its file and manifest are renamed
 *   into place and the directory is fsynced, so no published file is half-written. From
 *   `microBatch({ groups })` (recorded groups) every input is in exactly one published file
 *   whatever the crashes; without recorded groups a replay may regroup, so an input can be in two
 *   files (at-least-once). Readers should take a file when its manifest is there.
 *
 * ```ts
 * orders$.pipe(
 *   microBatch({ maxCount: 5_000, maxWaitMs: 60_000, groups: { store, name: 'orders' } }),
 *   fileSink({ dir: 'staging/orders', format: 'ndjson', name: 'orders' }),
 * )
 * ```
 * @throws InvalidConfigError at creation for a bad option.
 */
export function fileSink<T>(config: FileSinkConfig<T>): OperatorFunction<readonly T[], StagedFile> {
  const component = 'fileSink';
  const name = requireName(component, 'name', config.name);
  if (!NAME.test(name)) throw new InvalidConfigError(component, 'name', `must be letters, digits, '-' and '_' only, got '${name}'`);
  const dir = requireName(component, 'dir', config.dir);
  const format = config.format;
  if (format !== 'ndjson' && format !== 'csv') throw new InvalidConfigError(component, 'format', `must be 'ndjson' or 'csv', got ${String(format)}`);
  const columns = config.columns;
  if (format === 'csv' && (!Array.isArray(columns) || columns.length === 0 || columns.some((c) => typeof c !== 'string' || c.length === 0))) {
    throw new InvalidConfigError(component, 'columns', `must be a non-empty array of column names for 'csv', got ${JSON.stringify(columns)}`);
  }
  const record = config.record === undefined ? defaultRecord : requireFunction(component, 'record', config.record);
  const part = `fileSink:${name}`;
  const ext = format === 'ndjson' ? 'ndjson' : 'csv';

  return (source) =>
    markStage(
      new Observable<StagedFile>((subscriber) => {
        const queue: Array<{ batch: readonly T[]; held: Settlement | undefined }> = [];
        let current: Settlement | undefined;
        let busy = false;
        let sourceDone = false;
        let stopped = false;
        // Stale temporary files are removed once, before the first write.
        const ready = mkdir(dir, { recursive: true }).then(() => removeStaleTempFiles(dir, (f) => f.startsWith(`${name}.`)));
        ready.catch(() => undefined); // reported by the first write that awaits it

        const next = (): void => {
          if (busy || stopped) return;
          const job = queue.shift();
          if (job === undefined) {
            if (sourceDone) subscriber.complete();
            return;
          }
          busy = true;
          current = job.held;
          void write(job.batch, job.held).then(
            (file) => {
              if (stopped) return;
              busy = false;
              current = undefined;
              if (file !== undefined) withSettlement(job.held, () => subscriber.next(file));
              job.held?.release();
              next();
            },
            (err: unknown) => {
              if (stopped) return;
              busy = false;
              current = undefined;
              subscriber.error(err);
            },
          );
        };

        // Resolves with the published file, or undefined when the batch's inputs were failed instead.
        const write = async (batch: readonly T[], held: Settlement | undefined): Promise<StagedFile | undefined> => {
          let text: string;
          try {
            text = formatRecords(format, batch.map(record), columns);
          } catch (err) {
            if (held === undefined) throw err;
            held.fail(ensureError(err), 'resume', part);
            held.release();
            return undefined;
          }
          const key = held?.key ?? `content:${sha256Hex(text)}`;
          const file = fileNameOf(name, key, ext);
          const bytes = Buffer.from(text, 'utf8');
          const manifest: StagedFileManifest = {
            version: 1,
            sink: name,
            format,
            batchKey: key,
            recorded: held?.replayStable === true,
            files: [{ file, records: batch.length, bytes: bytes.length, sha256: sha256Hex(bytes) }],
            records: batch.length,
            inputRange: rangeOf(batch),
          };
          const manifestName = `${file}.manifest.json`;
          try {
            await ready;
            await writeFileAtomically(dir, file, bytes);
            // After the data file: a manifest never names a file that is not complete.
            await writeFileAtomically(dir, manifestName, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8'));
            await syncDirectory(dir);
          } catch (err) {
            if (held === undefined) throw err;
            held.fail(new Error(`${part}: writing ${file} in ${dir} failed: ${ensureError(err).message}`, { cause: err }));
            held.release();
            return undefined;
          }
          return { ...manifest, path: `${dir}/${file}`, manifestPath: `${dir}/${manifestName}` };
        };

        subscriber.add(() => {
          stopped = true;
          const reason = new Error(`${part} unsubscribed before this batch's file was published`);
          for (const s of [current, ...queue.splice(0).map((j) => j.held)]) {
            s?.fail(reason);
            s?.release();
          }
          current = undefined;
        });
        subscribeLinked(source, subscriber, {
          next: (batch) => {
            queue.push({ batch, held: holdCurrent() });
            next();
          },
          error: (err: unknown) => subscriber.error(err),
          complete: () => {
            sourceDone = true;
            next();
          },
        });
      }),
      source,
      { name: part, effect: 'passes', file: { dir, format } },
    );
}

/**
 * `<name>.<key made file-safe, at most 80 characters>.<first 12 hex of its SHA-256>.<ext>`: the
 * same key always gives the same name, and two keys that read alike once made safe still differ.
 */
export function fileNameOf(name: string, key: string, ext: string): string {
  const safe = key.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 80);
  return `${name}.${safe}.${sha256Hex(key).slice(0, 12)}.${ext}`;
}

function defaultRecord(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && 'data' in value && 'subject' in value) return (value as { data: unknown }).data;
  return value;
}

function rangeOf(batch: readonly unknown[]): StagedFileManifest['inputRange'] {
  let stream: string | undefined;
  let firstSeq: number | undefined;
  let lastSeq: number | undefined;
  for (const v of batch) {
    if (v === null || typeof v !== 'object') continue;
    const { seq, stream: s } = v as { seq?: unknown; stream?: unknown };
    if (typeof seq !== 'number') continue;
    if (typeof s === 'string') stream ??= s;
    firstSeq = firstSeq === undefined ? seq : Math.min(firstSeq, seq);
    lastSeq = lastSeq === undefined ? seq : Math.max(lastSeq, seq);
  }
  return { stream, firstSeq, lastSeq };
}
