import { InvalidConfigError } from '../../src/errors.js';
import { requireFunction, requireName } from './validate-config.js';
import { formatRecords, type RecordFileFormat } from './record-file-format.js';
import { sha256Hex, syncDirectory, writeFileAtomically } from './staged-file-write.js';

/*
 * One load of staged files, in two steps so that a caller can tell a value it cannot write (the
 * plan throws: bad input) from a disk that fails (the publish throws: try again): `planStagedFiles`
 * formats the values and builds the manifest in memory; `publishStagedFiles` writes each file
 * under a temporary name, fsyncs and renames it, then the manifest the same way, then fsyncs the
 * directory. Shared by `fileSink` and `writeStagedFiles`.
 */

/** What a load is written from (validated by {@link validateStageConfig}). */
export interface StageConfig<T> {
  readonly name: string;
  readonly format: RecordFileFormat;
  readonly columns: readonly string[] | undefined;
  readonly record: (value: T) => unknown;
  readonly partitionBy: ((value: T) => string) | undefined;
}

/** One file entry of a manifest. */
export interface StagedFileEntry {
  /** File name in the sink's directory. */
  readonly file: string;
  /** With `partitionBy`: the partition the file holds. */
  readonly partition?: string | undefined;
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
  /** The directory the load was published in, as it was given. */
  readonly dir: string;
  /** Path (as `dir` was given) of the (first) data file and of the manifest. */
  readonly path: string;
  readonly manifestPath: string;
  /** The manifest's file name in `dir` (what a "load ready" event names). */
  readonly manifestName: string;
}

/** A load ready to publish: its manifest and each file's bytes. */
export interface StagePlan {
  readonly manifest: StagedFileManifest;
  readonly manifestName: string;
  readonly contents: ReadonlyArray<{ readonly file: string; readonly bytes: Buffer }>;
}

const NAME = /^[A-Za-z0-9_-]+$/;

/** Validates the options `fileSink` and `writeStagedFiles` share; throws `InvalidConfigError` naming the field. */
export function validateStageConfig<T>(
  component: string,
  config: {
    name: string;
    format: RecordFileFormat;
    columns?: readonly string[] | undefined;
    record?: ((value: T) => unknown) | undefined;
    partitionBy?: ((value: T) => string) | undefined;
  },
): StageConfig<T> {
  const name = requireName(component, 'name', config.name);
  if (!NAME.test(name)) throw new InvalidConfigError(component, 'name', `must be letters, digits, '-' and '_' only, got '${name}'`);
  const format = config.format;
  if (format !== 'ndjson' && format !== 'csv') throw new InvalidConfigError(component, 'format', `must be 'ndjson' or 'csv', got ${String(format)}`);
  const columns = config.columns;
  if (format === 'csv' && (!Array.isArray(columns) || columns.length === 0 || columns.some((c) => typeof c !== 'string' || c.length === 0))) {
    throw new InvalidConfigError(component, 'columns', `must be a non-empty array of column names for 'csv', got ${JSON.stringify(columns)}`);
  }
  const record = config.record === undefined ? defaultRecord : requireFunction(component, 'record', config.record);
  const partitionBy = config.partitionBy === undefined ? undefined : requireFunction(component, 'partitionBy', config.partitionBy);
  return { name, format, columns, record, partitionBy };
}

/**
 * Formats `values` into one file (or one per partition, partitions in name order, values in batch
 * order within each) and builds the manifest. Throws for a value `record` or `partitionBy` throws
 * on, a partition that is not letters, digits, '-' and '_', or a record the format cannot write.
 */
export function planStagedFiles<T>(config: StageConfig<T>, values: readonly T[], key: string, recorded: boolean): StagePlan {
  const ext = config.format === 'ndjson' ? 'ndjson' : 'csv';
  const groups = new Map<string | undefined, unknown[]>();
  for (const value of values) {
    const partition = config.partitionBy?.(value);
    if (config.partitionBy !== undefined && (typeof partition !== 'string' || !NAME.test(partition))) {
      throw new TypeError(`partitionBy returned ${JSON.stringify(partition)}: a partition is letters, digits, '-' and '_' only`);
    }
    const records = groups.get(partition) ?? [];
    if (records.length === 0) groups.set(partition, records);
    records.push(config.record(value));
  }
  const stem = fileStemOf(config.name, key);
  const contents: Array<{ file: string; bytes: Buffer }> = [];
  const files: StagedFileEntry[] = [];
  for (const partition of [...groups.keys()].sort()) {
    const records = groups.get(partition)!;
    const file = partition === undefined ? `${stem}.${ext}` : `${stem}.${partition}.${ext}`;
    const bytes = Buffer.from(formatRecords(config.format, records, config.columns), 'utf8');
    contents.push({ file, bytes });
    files.push({ file, ...(partition !== undefined ? { partition } : {}), records: records.length, bytes: bytes.length, sha256: sha256Hex(bytes) });
  }
  const manifest: StagedFileManifest = {
    version: 1,
    sink: config.name,
    format: config.format,
    batchKey: key,
    recorded,
    files,
    records: values.length,
    inputRange: rangeOf(values),
  };
  // Without partitions the manifest keeps the name it always had: `<file>.manifest.json`.
  const manifestName = config.partitionBy === undefined ? `${files[0]?.file ?? `${stem}.${ext}`}.manifest.json` : `${stem}.manifest.json`;
  return { manifest, manifestName, contents };
}

/** Publishes a planned load in `dir` (created when missing): files, then the manifest, then a directory fsync. */
export async function publishStagedFiles(dir: string, plan: StagePlan): Promise<StagedFile> {
  for (const { file, bytes } of plan.contents) await writeFileAtomically(dir, file, bytes);
  // After the data files: a manifest never names a file that is not complete.
  await writeFileAtomically(dir, plan.manifestName, Buffer.from(`${JSON.stringify(plan.manifest, null, 2)}\n`, 'utf8'));
  await syncDirectory(dir);
  return {
    ...plan.manifest,
    dir,
    path: `${dir}/${plan.manifest.files[0]?.file ?? ''}`,
    manifestPath: `${dir}/${plan.manifestName}`,
    manifestName: plan.manifestName,
  };
}

/** `<name>.<key made file-safe, at most 80 characters>.<first 12 hex of its SHA-256>`. */
export function fileStemOf(name: string, key: string): string {
  const safe = key.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 80);
  return `${name}.${safe}.${sha256Hex(key).slice(0, 12)}`;
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
