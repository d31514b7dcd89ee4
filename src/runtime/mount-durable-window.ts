import { EMPTY, filter, interval, map, mergeMap, tap, type Observable } from 'rxjs';
import { deadLetterStreamConfig, deadLetterSubject } from '../dead-letter/dead-letter-subject.js';
import { HEADERS, type Envelope } from '../envelope/envelope.js';
import { ensureError, InvalidConfigError } from '../errors.js';
import { durableWindowEngine, type DurableWindowProbe } from './durable-window-engine.js';
import { resolveWindowCut } from '../exactly-once/durable-window-processor.js';
import type { DurableWindowAggregate } from '../exactly-once/durable-window-types.js';
import { jsonSchemasBySubject } from '../schema/json-schema-of.js';
import { withLazyJsonSchemas } from '../observe/lazy-json-schemas.js';
import { keyFits } from '../state/state-key.js';
import { subjectMatches, validateSubject } from '../transport/subject.js';
import { handedOver, runHandOver, type HandedOver } from './hand-over.js';
import type { MountDeps } from './mount-actor.js';
import type { DurableWindowInputs, TopologyDurableWindowOptions } from './mount-types.js';
import { supervised } from './supervised.js';

/** The subjects of a mounted durable window in its own stream. */
export function durableWindowSubjects(topology: string, name: string): { values: string; tick: string; close: string } {
  const base = `sluice.window.${topology}.${name}`;
  return { values: `${base}.in`, tick: `${base}.tick`, close: `${base}.close` };
}

/** Longest key a durable window takes, UTF-8 bytes: it is part of LMDB keys. */
const MAX_KEY_BYTES = 1000;

/**
 * `t.durableWindow`: event-time windows whose accumulators and watermark live in LMDB. Values and
 * closes reach the window's own stream through a durable sink with ids from their input
 * positions (as `t.durableBatch`'s do), with their event time and key in headers; the window runs
 * on the exactly-once engine over that stream (`durableWindowProcessor`). While windows are open
 * and no value came for `watermark.idleAdvanceMs`, an idle tick is written into the same stream
 * with id `<topology>.<name>.idle.<position>` (the engine's committed position: a tick re-sent
 * before the engine read the last one is a duplicate), so idle closes are at stream positions too
 * and a replay cuts the same windows.
 */
export function mountDurableWindow<T, A>(
  deps: MountDeps,
  options: TopologyDurableWindowOptions<T, A>,
  inputs: DurableWindowInputs<T>,
): Observable<Envelope<unknown>> {
  const { ctx } = deps;
  const component = 'durableWindow';
  if (typeof options.name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(options.name))
    throw new InvalidConfigError(component, 'name', `must be 1-64 letters, digits, '-' or '_', got ${JSON.stringify(options.name)}`);
  const cut = resolveWindowCut(component, options, options.aggregate as DurableWindowAggregate<unknown, unknown>);
  const emits = options.emits;
  if (emits === undefined || typeof emits.stream !== 'string' || !Array.isArray(emits.subjects))
    throw new InvalidConfigError(component, 'emits', 'must be { stream, subjects } capturing subject and lateSubject');
  // Array.isArray narrows a readonly array to any[]: this keeps the element type.
  const emitSubjects: readonly string[] = emits.subjects;
  for (const field of ['subject', 'lateSubject'] as const) {
    const s = options[field];
    try {
      validateSubject(s, { wildcards: false });
    } catch (err) {
      throw new InvalidConfigError(component, field, `is not a publish subject: ${ensureError(err).message}`);
    }
    if (!emitSubjects.some((p) => subjectMatches(p, s)))
      throw new InvalidConfigError(
        component,
        field,
        `${JSON.stringify(s)} is not captured by emits.subjects ${JSON.stringify(emits.subjects)}: it would not be exactly-once`,
      );
  }
  const name = options.name;
  const subjects = durableWindowSubjects(ctx.topologyName, name);
  const streamName = options.stream ?? `SLUICE_WINDOW_${ctx.topologyName}_${name}`;
  const ownStream = { name: streamName, subjects: [subjects.values, subjects.tick, subjects.close] };
  const dlqSubject = options.deadLetterSubject ?? deadLetterSubject(ctx.topologyName, name);
  const operator = `durableWindow:${name}`;

  // Event time and key are fixed at the hand-over, in headers: the processor reads them, so a
  // replay sees the same ones whatever the functions would say later.
  const values = inputs.values.pipe(
    mergeMap((env) => {
      let t: number;
      let key: string | undefined;
      try {
        t = options.eventTime !== undefined ? options.eventTime(env) : env.eventTime;
        if (typeof t !== 'number' || !Number.isFinite(t))
          throw new InvalidConfigError(component, 'eventTime', `must return a finite epoch ms, got ${String(t)}`);
        key = options.keyOf?.(env);
        if (key !== undefined && (typeof key !== 'string' || !keyFits(key, MAX_KEY_BYTES)))
          throw new InvalidConfigError(
            component,
            'keyOf',
            `must return a string of at most ${MAX_KEY_BYTES} UTF-8 bytes, got ${typeof key === 'string' ? `${key.length} characters` : typeof key}`,
          );
      } catch (err) {
        ctx.deadLetter(env, err, operator);
        return EMPTY;
      }
      const headers: Record<string, string> = { ...env.headers, [HEADERS.originSubject]: env.subject, [HEADERS.eventTime]: String(t) };
      delete headers[HEADERS.key];
      if (key !== undefined) headers[HEADERS.key] = key;
      return [{ kind: 'routed' as const, to: subjects.values, envelope: { ...env, raw: undefined, eventTime: t, key, headers } }];
    }),
  );
  const closeSources: readonly Observable<Envelope<unknown>>[] =
    inputs.closes === undefined ? [] : Array.isArray(inputs.closes) ? inputs.closes : [inputs.closes as Observable<Envelope<unknown>>];
  const closes = closeSources.map((source) =>
    source.pipe(map((env: Envelope<unknown>) => handedOver(env, subjects.close, { [HEADERS.eventTime]: String(env.eventTime) }))),
  );
  const lanes: Observable<HandedOver>[] = [values, ...closes];
  runHandOver(deps, { stream: ownStream, sinkName: `window-${name}`, sinkSubjects: [subjects.values, subjects.close], label: `durable window ${name}` }, lanes);

  const probe: DurableWindowProbe = { meta: undefined, position: () => 0, lastValueAt: ctx.scheduler.now() };
  const idle = cut.idleAdvanceMs;
  if (idle !== undefined) {
    // Checked four times per idle period, so a tick follows the last value by idle to idle × 1.25.
    const ticks = interval(Math.max(10, Math.floor(idle / 4)), ctx.scheduler).pipe(
      filter(() => (probe.meta?.open ?? 0) > 0 && ctx.scheduler.now() - probe.lastValueAt >= idle),
      tap(() => {
        probe.lastValueAt = ctx.scheduler.now();
        const msgId = `${ctx.topologyName}.${name}.idle.${probe.position()}`;
        ctx.transport.publishDurable(subjects.tick, new Uint8Array(0), { msgId }).catch((err: unknown) => {
          // The next interval sends it again (same id while the engine has not moved).
          ctx.logger.warn({ window: name, err: ensureError(err).message }, 'durable window: idle tick not published; retried at the next interval');
        });
      }),
      ctx.untilStopped(),
    );
    deps.run(ticks, `durable window ${name} (idle ticks)`);
  }

  deps.wire?.(
    withLazyJsonSchemas(
      {
        kind: 'durable-window',
        name,
        stream: streamName,
        subject: `${subjects.values}, ${subjects.close}, ${subjects.tick}`,
        emits: [options.subject, options.lateSubject],
        outputStreams: [{ name: emits.stream, subjects: emits.subjects }],
        deadLetterSubject: dlqSubject,
      },
      { payloads: () => jsonSchemasBySubject(emits.schemas, emits.jsonSchemas) },
    ),
  );
  // An error out of the engine is a fault (storage), not bad input: stop.
  deps.run(
    supervised(
      durableWindowEngine<T, A>(
        ctx,
        {
          name,
          cut,
          aggregate: options.aggregate,
          subjects,
          resultSubject: options.subject,
          lateSubject: options.lateSubject,
          deadLetterSubject: dlqSubject,
          stream: streamName,
          stateDir: options.stateDir,
          reportEveryMs: options.reportEveryMs,
          batch: options.batch,
          ensureStreams: [
            ownStream,
            { name: emits.stream, subjects: emits.subjects },
            ...(options.deadLetterSubject === undefined ? [deadLetterStreamConfig(ctx.topologyName)] : []),
          ],
        },
        probe,
      ),
      'stop',
    ),
    `durable window ${name}`,
  );
  return ctx.stream(emits.stream, [...emitSubjects], { durableName: `sluice_${ctx.topologyName}_${name}_out` });
}
