import { mkdir } from 'node:fs/promises';
import { Observable, type OperatorFunction } from 'rxjs';
import { ensureError } from '../src/errors.js';
import { markStage } from '../src/observe/lineage.js';
import { holdCurrent, withSettlement } from '../src/settle/settle-scope.js';
import type { Settlement } from '../src/settle/settlement.js';
import { subscribeLinked } from './internal/subscribe-linked.js';
import { requireName } from './internal/validate-config.js';
import type { RecordFileFormat } from './internal/record-file-format.js';
import { fileStemOf, planStagedFiles, publishStagedFiles, validateStageConfig, type StagedFile, type StagePlan } from './internal/stage-files.js';
import { removeStaleTempFiles, sha256Hex } from './internal/staged-file-write.js';

export type { StagedFile, StagedFileEntry, StagedFileManifest } from './internal/stage-files.js';

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
  /**
   * Splits each batch into one file per partition (e.g. per table), all named in the batch's one
   * manifest: `<name>.<key>.<hash>.<partition>.<ext>`, manifest `<name>.<key>.<hash>.manifest.json`.
   * Letters, digits, `-` and `_`; a value with another partition is treated as one `record`
   * cannot write. Default: one file per batch.
   */
  partitionBy?: ((value: T) => string) | undefined;
}

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
  const stage = validateStageConfig<T>(component, config);
  const { name, format } = stage;
  const dir = requireName(component, 'dir', config.dir);
  const part = `fileSink:${name}`;

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
          let plan: StagePlan;
          try {
            plan = planStagedFiles(stage, batch, held?.key ?? '', held?.replayStable === true);
            // Without a settling input a load is named by its contents, so a rewrite replaces it.
            if (held === undefined) plan = planStagedFiles(stage, batch, `content:${sha256Hex(Buffer.concat(plan.contents.map((c) => c.bytes)))}`, false);
          } catch (err) {
            if (held === undefined) throw err;
            held.fail(ensureError(err), 'resume', part);
            held.release();
            return undefined;
          }
          try {
            await ready;
            return await publishStagedFiles(dir, plan);
          } catch (err) {
            if (held === undefined) throw err;
            held.fail(new Error(`${part}: writing ${plan.manifestName} and its files in ${dir} failed: ${ensureError(err).message}`, { cause: err }));
            held.release();
            return undefined;
          }
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
  return `${fileStemOf(name, key)}.${ext}`;
}
