import { join } from 'node:path';
import { filter, map } from 'rxjs';
import { defineTopology, msgpackCodec, type Envelope, type PeriodsConfig } from '../../../src/index.js';

interface Input {
  id: string;
  n: number;
}

/** Inputs `n` that are closes: 750 closes period 0, 1250 period 1, ... (250 inputs after the period's last value). */
export const isClose = (n: number): boolean => n % 500 === 250 && n > 500;
/** The period of value `n`: 1..500 → 0, 501..1000 → 1, ... */
export const periodOf = (n: number): number => Math.floor((n - 1) / 500);
/** Values whose period is closed by some input of `inputs` produce one output each. */
export const flushedValue = (n: number, inputs: number): boolean => !isClose(n) && 500 * (periodOf(n) + 1) + 250 <= inputs;

/**
 * A period batch over the crash inputs: input `n` is a value of period `floor((n - 1) / 500)`
 * and key `k<n % 7>`, except the closes (`isClose`), which close the period before theirs 250
 * inputs after its last value — more than the source's unsettled inputs, so a redelivery after a
 * kill never moves a value behind its close. Values and closes come from the one input stream,
 * so the batch's own stream keeps their order. The flush emits `{ id, n, key, period, chunk }` per
 * value on `<out>.batch`; a period never closed (the tail) emits nothing.
 */
export default function periodBatch(io: { name: string; stream: string; subjects: string; out: string; ackWaitMs: number; dir: string }) {
  process.env['SLUICE_STATE_DIR'] = join(io.dir, 'state');
  const periods: PeriodsConfig<Input, { period: string }> = {
    keyOf: (v) => `k${v.n % 7}`,
    periodOf: (v) => `p${periodOf(v.n)}`,
    closeOf: (c) => c.period,
    lateSubject: `${io.out}.late`,
  };
  return defineTopology(io.name, (t) => {
    const inputs = t.stream<Input>(io.stream, io.subjects, { ackWaitMs: io.ackWaitMs, maxUnsettled: 100 });
    return t.durableBatch(
      {
        name: 'period',
        periods,
        chunkSize: 40,
        reportEveryMs: 0,
        flush: (chunk, emit, info) => {
          for (const r of chunk) {
            const v = msgpackCodec.decode(r.data) as Input;
            emit(`${io.out}.batch`, msgpackCodec.encode({ id: v.id, n: v.n, key: info.key, period: info.period, chunk: info.chunk }), {
              'Content-Type': msgpackCodec.contentType,
            });
          }
        },
      },
      {
        values: inputs.pipe(filter((e: Envelope<Input>) => !isClose(e.data.n))),
        triggers: inputs.pipe(
          filter((e: Envelope<Input>) => isClose(e.data.n)),
          map((e) => ({ ...e, data: { period: `p${periodOf(e.data.n) - 1}` } })),
        ),
      },
    );
  });
}
