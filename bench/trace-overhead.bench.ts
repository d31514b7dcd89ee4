/**
 * CPU cost of trace-context propagation on the hot path: a stream input (its settlement, as the
 * stream source makes it) routed to a plain sink, with and without a `traceparent`, tracing off;
 * and with tracing on over OpenTelemetry's no-op provider (no SDK registered), to show what the
 * span calls cost before an exporter adds its own. The transport is a stub that counts publishes,
 * so only Sluice's work is timed (no socket, no broker).
 *
 * Run: node --import tsx bench/trace-overhead.bench.ts [--messages 200000] [--rounds 5]
 * Prints CPU ns (user + system, so less skewed by other processes than wall time) per message,
 * per mode and round, and the median per mode; modes alternate within each round. The same file runs in a
 * checkout without src/trace (it then skips the per-input hook), to compare with the code before.
 */
import { Subject } from 'rxjs';
import { makeEnvelope } from '../src/envelope/make-envelope.js';
import type { Envelope } from '../src/envelope/envelope.js';
import { createSink } from '../src/runtime/create-sink.js';
import { RuntimeStats } from '../src/observe/runtime-stats.js';
import { Settlement } from '../src/settle/settlement.js';
import { withSettlement } from '../src/settle/settle-scope.js';
import type { Transport } from '../src/transport/transport.js';

type TraceModule = { traceInput: <T>(env: Envelope<T>, s: Settlement) => Envelope<T>; endInputSpan: (s: Settlement, f: Error | undefined) => void };
type EnableModule = { enableTracing: () => void; disableTracing: () => void };
/* eslint-disable @typescript-eslint/no-unnecessary-type-assertion -- `as string`: the bench also runs on trees without these modules */
const traceMod = (await import('../src/trace/trace-input.js' as string).catch(() => undefined)) as TraceModule | undefined;
const enableMod = (await import('../src/trace/enable-tracing.js' as string).catch(() => undefined)) as EnableModule | undefined;
/* eslint-enable @typescript-eslint/no-unnecessary-type-assertion */

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const messages = arg('messages', 200_000);
const rounds = arg('rounds', 5);

let published = 0;
const transport = { publish: () => void published++, maxPayloadBytes: 1 << 20 } as unknown as Transport;
const sink = createSink({
  topologyName: 'bench',
  transport,
  stats: new RuntimeStats(),
  now: () => 0,
  deadLetter: () => undefined,
  publishDeadLetter: () => undefined,
});

function run(withTraceparent: boolean, hook: boolean): number {
  const input = new Subject<unknown>();
  const sub = input.pipe(sink()).subscribe();
  const raw = new Uint8Array([0x93, 1, 2, 3]);
  const headers: Record<string, string> = {
    'Content-Type': 'application/msgpack',
    ...(withTraceparent ? { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } : {}),
  };
  const envs = Array.from({ length: 1024 }, (_, i) => makeEnvelope({ subject: 'in.x', data: [1, 2, 3], raw, headers, stream: 'IN', seq: i + 1 }));
  const trace = hook ? traceMod : undefined;
  const started = process.cpuUsage();
  for (let i = 0; i < messages; i++) {
    // What the stream source does per message (minus the ack), then a route to the sink.
    const settlement: Settlement = new Settlement(`IN:${i}`, true, (f) => trace?.endInputSpan(settlement, f));
    withSettlement(settlement, () => {
      const env = trace !== undefined ? trace.traceInput(envs[i & 1023]!, settlement) : envs[i & 1023]!;
      input.next({ kind: 'routed', to: 'out.x', envelope: env });
    });
    settlement.release();
  }
  const cpu = process.cpuUsage(started);
  const ns = ((cpu.user + cpu.system) * 1000) / messages;
  sub.unsubscribe();
  return ns;
}

// [name, traceparent on the input, per-input hook called, tracing on]. Without the hook the
// stream-source side is as before tracing; the sink's own check (one variable) stays.
const modes: Array<[string, boolean, boolean, boolean]> = [
  ['no traceparent, no input hook', false, false, false],
  ['traceparent, no input hook', true, false, false],
  ...(traceMod !== undefined
    ? ([
        ['no traceparent, tracing off', false, true, false],
        ['traceparent, tracing off', true, true, false],
        ['no traceparent, tracing on (no-op provider)', false, true, true],
        ['traceparent, tracing on (no-op provider)', true, true, true],
      ] as Array<[string, boolean, boolean, boolean]>)
    : []),
];
const results = new Map<string, number[]>();
run(false, true); // warm-up
run(true, true);
for (let r = 0; r < rounds; r++) {
  for (const [name, tp, hook, on] of modes) {
    if (on) enableMod!.enableTracing();
    const ns = run(tp, hook);
    enableMod?.disableTracing();
    results.set(name, [...(results.get(name) ?? []), ns]);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  `trace hook: ${traceMod !== undefined ? 'present' : 'absent (code before tracing)'}; ${messages} messages x ${rounds} rounds; published ${published}`,
);
for (const [name, xs] of results) console.log(`${name.padEnd(46)} median ${median(xs).toFixed(0)} ns/msg  rounds ${xs.map((x) => x.toFixed(0)).join(' ')}`);
