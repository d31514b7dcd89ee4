import type { Guarantee } from '../observe/path-guarantee.js';
import type { JsonSchema } from '../schema/payload-schema.js';

// The shape of one subject in a topology's wire contract (TopologyContract, topology-contract.ts)
// and of the headers on its messages. Apart from topology-contract.ts because the builders of
// the fixed parts (contract-headers.ts, dead-letter-contract-subjects.ts, part-subjects-of.ts)
// name them while topology-contract.ts imports those builders: here neither side imports the other.

/**
 * Which way a subject goes, seen from the topology: `in` it reads (other services publish),
 * `out` it publishes (other services subscribe), `dead-letter` where it parks what it gave up on,
 * `request` it answers (core request/reply), `reply` where it sends answers, `internal` between
 * its own parts (listed so nothing on the wire is unexplained; not for other services).
 */
export type Direction = 'in' | 'out' | 'dead-letter' | 'request' | 'reply' | 'internal';

/** A header on a subject's messages. */
export interface ContractHeader {
  readonly name: string;
  /** `always` on every message Sluice writes; `sometimes` as described; `optional` for publishers to set. */
  readonly presence: 'always' | 'sometimes' | 'optional';
  readonly description: string;
}

/** One subject (or pattern, with `*` / `>`) of a topology. */
export interface ContractSubject {
  readonly subject: string;
  readonly direction: Direction;
  /** The part that reads or writes it: `source`, `stream <name>`, `sink <name>`, `actor <name>`, `durable-batch <name>`, `runtime`, `service`. */
  readonly part: string;
  /** `none` for what never goes on the wire (a schedule's runs). */
  readonly transport: 'core' | 'jetstream' | 'none';
  /** The JetStream stream that captures it, when known. */
  readonly stream?: string | undefined;
  /** The durable consumer the topology reads it with. */
  readonly consumer?: string | undefined;
  /** JSON Schema (draft 2020-12) of the decoded payload; absent when the topology declares none. */
  readonly payload?: JsonSchema | undefined;
  /** What the payload is encoded as: `application/msgpack` unless the `Content-Type` header says otherwise. */
  readonly contentType: string;
  readonly headers: readonly ContractHeader[];
  /** What the path through this subject survives (README "Guarantees"). */
  readonly guarantee?: Guarantee | undefined;
  readonly because?: string | undefined;
  readonly description?: string | undefined;
}
