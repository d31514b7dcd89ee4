import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StagedFileEntry, StagedFileManifest } from './file-sink.js';
import { sha256Hex } from './internal/staged-file-write.js';
import { stagedLoadsIn } from './internal/staged-loads.js';
import { requireFunction, requireName } from './internal/validate-config.js';

/** Config of {@link readStagedFiles}. */
export interface ReadStagedFilesConfig {
  /** The directory a `fileSink` or `writeStagedFiles` published in. */
  dir: string;
  /** Only the loads written under this `name` (the manifest's `sink`). Default: every load in `dir`. */
  name?: string | undefined;
  /** Only the loads whose manifest this says yes to (e.g. by `batchKey`). Default: every load. */
  loads?: ((manifest: StagedFileManifest) => boolean) | undefined;
}

/** A staged file does not match its manifest: missing, or other bytes, SHA-256 or record count. */
export class StagedFileMismatchError extends Error {
  override readonly name = 'StagedFileMismatchError';
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file} does not match its manifest: ${detail}`);
  }
}

/**
 * Reads back the records of the loads published in a directory (by `fileSink` or
 * `writeStagedFiles`), in manifest-name order, each load's files in manifest order. A load is read
 * only once its manifest is there, so one being written is not; each file is read whole and
 * checked against its manifest (bytes, SHA-256, records) before any of its records is yielded.
 *
 * - Yields: each record as written: an NDJSON line parsed as JSON; a CSV row as an object of
 *   strings keyed by the header (an empty field is `''`).
 * - Holds: one file's bytes and records at a time, so a reader that folds (a compaction) holds
 *   its fold plus one file, not the directory.
 * - Fails: rejects with {@link StagedFileMismatchError} for a file that is missing or does not
 *   match; with the filesystem's error otherwise. A `dir` that does not exist holds no loads.
 *
 * ```ts
 * for await (const row of readStagedFiles<Row>({ dir: 'staging/parts', name: 'part' })) latest.set(row.key, row);
 * ```
 * @throws InvalidConfigError (synchronously) for a bad option.
 */
export function readStagedFiles<T>(config: ReadStagedFilesConfig): AsyncGenerator<T> {
  const component = 'readStagedFiles';
  const dir = requireName(component, 'dir', config.dir);
  const name = config.name !== undefined ? requireName(component, 'name', config.name) : undefined;
  const loads = config.loads !== undefined ? requireFunction(component, 'loads', config.loads) : undefined;
  return (async function* () {
    for (const { manifest } of await stagedLoadsIn(dir, { name, loads })) {
      for (const entry of manifest.files) yield* recordsOf<T>(manifest.format, await checkedBytes(dir, entry), entry);
    }
  })();
}

async function checkedBytes(dir: string, entry: StagedFileEntry): Promise<Buffer> {
  const bytes = await readFile(join(dir, entry.file)).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new StagedFileMismatchError(entry.file, 'the manifest names it but it is not there');
    throw err;
  });
  const sha256 = sha256Hex(bytes);
  if (bytes.length !== entry.bytes || sha256 !== entry.sha256)
    throw new StagedFileMismatchError(entry.file, `${bytes.length} bytes, sha256 ${sha256}; the manifest says ${entry.bytes} bytes, sha256 ${entry.sha256}`);
  return bytes;
}

function recordsOf<T>(format: StagedFileManifest['format'], bytes: Buffer, entry: StagedFileEntry): T[] {
  const text = bytes.toString('utf8');
  const records =
    format === 'ndjson'
      ? text
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as T)
      : csvRecords<T>(text);
  if (records.length !== entry.records) throw new StagedFileMismatchError(entry.file, `${records.length} records; the manifest says ${entry.records}`);
  return records;
}

/** RFC 4180 as `fileSink` writes it: a header row, CRLF line ends, quoted fields with doubled quotes. */
function csvRecords<T>(text: string): T[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') field += text[++i];
      else quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
      if (c === '\r') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  const [header = [], ...body] = rows;
  return body.map((cells) => Object.fromEntries(header.map((column, i) => [column, cells[i] ?? ''])) as T);
}
