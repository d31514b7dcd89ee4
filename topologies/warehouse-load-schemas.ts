import { z } from 'zod';

/**
 * The payloads of warehouse-load, defined once: the TypeScript types are inferred from these
 * schemas, change events are validated against `ChangeEventSchema` at the edge (what does not
 * match is dead-lettered), and `sluice describe --json` publishes them as JSON Schema. On the wire
 * everything is standard MessagePack; in the staged files, one JSON document per line.
 */

/** The tables whose changes are loaded; each gets its own file in every load. */
export const TABLES = ['customers', 'orders'] as const;

/** In on `crm.changes.<table>` (stream CRM_CHANGES): one row change captured from the CRM's database. */
export const ChangeEventSchema = z.object({
  changeId: z.string().min(1).describe('unique per change: the id the warehouse deduplicates by'),
  table: z.enum(TABLES),
  op: z.enum(['insert', 'update', 'delete']),
  key: z.string().min(1).describe("the row's primary key"),
  row: z.record(z.string(), z.unknown()).nullable().describe('the row after the change; null for a delete'),
  changedAt: z.iso.datetime({ offset: true }).describe('when the change was committed in the source, ISO 8601'),
});

/** One line of a staged change file (and one value of the nightly batch): the change plus its position in CRM_CHANGES. */
export const StagedChangeSchema = ChangeEventSchema.extend({
  seq: z.number().int().positive().describe('stream sequence of the change in CRM_CHANGES'),
});

/** One line of a nightly snapshot file: the last change of the day to one row (a delete is kept, as a tombstone). */
export const SnapshotRowSchema = StagedChangeSchema;

/**
 * Out on `warehouse.loads.changes` (stream WAREHOUSE_CHANGE_LOADS) and `warehouse.loads.snapshot`
 * (stream WAREHOUSE_SNAPSHOT_LOADS): a load is published and complete; load it, then its manifest
 * says the rest. Published exactly once per load (within the stream's duplicate window).
 */
export const LoadReadySchema = z.object({
  kind: z.enum(['changes', 'snapshot']),
  load: z.string().min(1).describe("the load's key (the manifest's batchKey): the same load always has the same key"),
  dir: z.string().min(1).describe('directory of the files, as the topology was configured (absolute by default)'),
  manifest: z.string().min(1).describe('file name of the manifest in dir'),
  records: z.number().int().positive(),
  files: z.array(
    z.object({
      table: z.enum(TABLES),
      file: z.string().min(1).describe('file name in dir'),
      records: z.number().int().positive(),
      bytes: z.number().int().positive(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
    }),
  ),
  firstSeq: z.number().int().positive().optional().describe('lowest CRM_CHANGES sequence in the load'),
  lastSeq: z.number().int().positive().optional().describe('highest CRM_CHANGES sequence in the load'),
});

export type Table = (typeof TABLES)[number];
export type ChangeEvent = z.infer<typeof ChangeEventSchema>;
export type StagedChange = z.infer<typeof StagedChangeSchema>;
export type SnapshotRow = z.infer<typeof SnapshotRowSchema>;
export type LoadReady = z.infer<typeof LoadReadySchema>;
