import { EMPTY, map, type Observable } from 'rxjs';
import { durableBatch } from './durable-batch-topology.js';
import type { DurableBatchInputs, TopologyDurableBatchOptions } from './mount-types.js';
import type { Envelope } from '../envelope/envelope.js';
import { deadLetterStreamConfig, deadLetterSubject } from '../dead-letter/dead-letter-subject.js';
import { handedOver, runHandOver } from './hand-over.js';
import type { MountDeps } from './mount-actor.js';
import { jsonSchemasBySubject } from '../schema/json-schema-of.js';
import { withLazyJsonSchemas } from '../observe/lazy-json-schemas.js';
import { supervised } from './supervised.js';
import { subjectMatches } from '../transport/subject.js';

/** The subjects of a mounted durable batch in its own stream. */
export function durableBatchSubjects(topology: string, name: string): { values: string; trigger: string } {
  const base = `sluice.batch.${topology}.${name}`;
  return { values: `${base}.in`, trigger: `${base}.trigger` };
}

/**
 * `t.durableBatch`: the durable batch accumulates exactly once from its own stream, and the
 * topology's values and triggers reach that stream through a durable sink whose ids derive from
 * their input positions, so values and triggers keep one order that every replay sees (the cut is
 * deterministic) and nothing is lost or doubled on the way. See `mountActor` for the pattern.
 */
export function mountDurableBatch(deps: MountDeps, options: TopologyDurableBatchOptions, inputs: DurableBatchInputs): Observable<Envelope<unknown>> {
  const { ctx } = deps;
  const subjects = durableBatchSubjects(ctx.topologyName, options.name);
  const streamName = options.stream ?? `SLUICE_BATCH_${ctx.topologyName}_${options.name}`;
  const forward = (to: string) => map((env: Envelope<unknown>) => handedOver(env, to));
  const lanes = [inputs.values.pipe(forward(subjects.values)), ...(inputs.triggers !== undefined ? [inputs.triggers.pipe(forward(subjects.trigger))] : [])];
  const ownSubjects = [subjects.values, subjects.trigger];
  runHandOver(
    deps,
    {
      stream: { name: streamName, subjects: ownSubjects },
      sinkName: `batch-${options.name}`,
      sinkSubjects: ownSubjects,
      label: `durable batch ${options.name}`,
    },
    lanes,
  );

  const { emits, stream: _s, ...batchOptions } = options;
  const dlqSubject = batchOptions.deadLetterSubject ?? deadLetterSubject(ctx.topologyName, options.name);
  const late = options.periods?.lateSubject;
  // Late records need a stream: the one of `emits` when it captures the late subject, else any
  // stream that already does, else their own (created at start).
  const lateStream =
    late !== undefined && !(emits?.subjects ?? []).some((p) => subjectMatches(p, late)) ? { name: `${streamName}_LATE`, subjects: [late] } : undefined;
  deps.wire?.(
    withLazyJsonSchemas(
      {
        kind: 'durable-batch',
        name: options.name,
        stream: streamName,
        subject: `${subjects.values}, ${subjects.trigger}`,
        emits: late !== undefined && lateStream !== undefined ? [...(emits?.subjects ?? []), late] : emits?.subjects,
        outputStreams:
          emits === undefined && lateStream === undefined
            ? undefined
            : [...(emits !== undefined ? [{ name: emits.stream, subjects: emits.subjects }] : []), ...(lateStream !== undefined ? [lateStream] : [])],
        periods:
          options.periods !== undefined
            ? { lateSubject: options.periods.lateSubject, complete: options.periods.complete !== undefined ? 'rule' : 'stream order' }
            : undefined,
        deadLetterSubject: dlqSubject,
      },
      { payloads: () => jsonSchemasBySubject(emits?.schemas, emits?.jsonSchemas) },
    ),
  );
  // An error out of the engine is a fault (storage, a broken trigger), not bad input: stop.
  deps.run(
    supervised(
      durableBatch(ctx, {
        ...batchOptions,
        stateDir: batchOptions.stateDir ?? ctx.stateDir,
        source: { stream: streamName },
        triggerSubjects: [subjects.trigger],
        lateStream: lateStream?.name,
        // As an actor's: a value whose flush keeps throwing goes to the topology's dead letters, exactly once.
        deadLetterSubject: dlqSubject,
        ensureStreams: [
          { name: streamName, subjects: [subjects.values, subjects.trigger] },
          ...(emits !== undefined ? [{ name: emits.stream, subjects: emits.subjects }] : []),
          ...(batchOptions.deadLetterSubject === undefined ? [deadLetterStreamConfig(ctx.topologyName)] : []),
        ],
      }),
      'stop',
    ),
    `durable batch ${options.name}`,
  );
  if (emits === undefined) return EMPTY;
  return ctx.stream(emits.stream, [...emits.subjects], { durableName: `sluice_${ctx.topologyName}_${options.name}_out` });
}
