import { jetstream } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import type { FraudDecision, Payment, PaymentCheck } from '../topologies/fraud-check.js';
import { mulberry32 } from '../src/testing/mulberry32.js';
import { createLatencyHistogram } from './latency-histogram.js';
import { startProcessor, type ProcessorHandle } from './processor-client.js';

/** The `--modes` name that selects this section of `npm run bench`. */
export const FRAUD_CHECK_MODE = 'fraud-check';

/** How hard the section pushes. */
export interface FraudCheckPlan {
  /** Measured rounds per side, alternating Sluice / raw. */
  readonly rounds: number;
  /** Requests per measured round (after a warm-up of the same size, once per side). */
  readonly requests: number;
  /** Requests outstanding at once (closed loop). */
  readonly inFlight: number;
  /** Customers with activity; 5% of them have a velocity burst (their checks are denied). */
  readonly customers: number;
  readonly seed: number;
}

/** One side's round. */
export interface FraudCheckRound {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly perSec: number;
  /** Responder process CPU (user+system) per request, µs. */
  readonly cpuUsPerRequest: number;
  /** Replies by decision, and fallbacks / errors (0 expected). */
  readonly allow: number;
  readonly deny: number;
  readonly other: number;
  readonly fallbacks: number;
  readonly errors: number;
}

/** One side: its rounds and their medians. */
export interface FraudCheckSide {
  readonly name: 'fraud-check' | 'raw-fraud-check';
  readonly label: string;
  readonly rounds: readonly FraudCheckRound[];
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly perSec: number;
  readonly cpuUsPerRequest: number;
}

/** What the section measured (`fraudCheck` in result.json). */
export interface FraudCheckLatency {
  readonly plan: FraudCheckPlan;
  readonly sluice?: FraudCheckSide | undefined;
  readonly raw?: FraudCheckSide | undefined;
  /** Medians of the per-round ratios Sluice ÷ raw (rounds are paired: A B, A B, ...). */
  readonly p50Ratio?: number | undefined;
  readonly p99Ratio?: number | undefined;
  readonly throughputRatio?: number | undefined;
  readonly cpuRatio?: number | undefined;
  /** Why the section did not run (or stopped). */
  readonly error?: string | undefined;
}

/** The plan for a preset: 3 × 3,000 requests for `--quick`, 5 × 20,000 otherwise; `--rounds` overrides the rounds. */
export function fraudCheckPlan(preset: 'quick' | 'full' | 'custom', rounds: number | undefined, seed: number): FraudCheckPlan {
  const quick = preset === 'quick';
  return { rounds: rounds ?? (quick ? 3 : 5), requests: quick ? 3_000 : 20_000, inFlight: 100, customers: 1_000, seed };
}

interface Env {
  readonly url: string;
  readonly workDir: string;
  /** Unique per run: the raw responder's subject is `<prefix>.fraud.check`. */
  readonly prefix: string;
  readonly onStep?: ((line: string) => void) | undefined;
}

/**
 * Latency of topologies/fraud-check.ts at `inFlight` requests outstanding, beside a hand-written
 * nats.js responder doing the same rule work on an in-memory map (bench/modes/fraud-check-raw.ts),
 * each in its own child process (bench/processor.ts), over the run's nats-server. The requester
 * is a plain nats.js client (`nc.request()`, JSON) in this process, closed loop. Both sides first
 * get the same activity: 3 payments an hour ago per customer, plus 5 recent ones for every 20th
 * customer (so about 5% of checks are denied for velocity, the rest allowed).
 */
export async function runFraudCheckLatency(env: Env, plan: FraudCheckPlan): Promise<FraudCheckLatency> {
  const rawSubject = `${env.prefix}.fraud.check`;
  const common = {
    url: env.url,
    inSubject: rawSubject,
    outPrefix: `${env.prefix}.out`,
    deadLetterSubject: `${env.prefix}.dlq`,
    workDir: env.workDir,
    params: {},
  };
  let sluice: ProcessorHandle | undefined;
  let raw: ProcessorHandle | undefined;
  let nc: NatsConnection | undefined;
  try {
    sluice = await startProcessor({ ...common, module: 'fraud-check-sluice' });
    raw = await startProcessor({ ...common, module: 'fraud-check-raw' });
    nc = await connect({ servers: env.url, noAsyncTraces: true, name: 'bench-fraud-requester' });
    env.onStep?.('fraud-check: activity');
    const burstCustomer = await publishActivity(nc, plan.customers);
    const sides = [
      { subject: 'fraud.check', proc: sluice, rounds: [] as FraudCheckRound[] },
      { subject: rawSubject, proc: raw, rounds: [] as FraudCheckRound[] },
    ];
    // Ready when the last payment published (a burst customer's) has been applied: its check is denied.
    for (const s of sides) await untilDenied(nc, s.subject, burstCustomer);
    const checks = makeChecks(plan);
    for (const s of sides) await closedLoop(nc, s.subject, checks, plan.requests, plan.inFlight, s.proc);
    for (let r = 0; r < plan.rounds; r++) {
      for (const s of sides) {
        env.onStep?.(`fraud-check: round ${r + 1}/${plan.rounds}, ${s.subject === rawSubject ? 'raw' : 'sluice'}`);
        s.rounds.push(await closedLoop(nc, s.subject, checks, plan.requests, plan.inFlight, s.proc));
      }
    }
    const [a, b] = sides as [(typeof sides)[0], (typeof sides)[0]];
    const side = (name: FraudCheckSide['name'], label: string, rounds: FraudCheckRound[]): FraudCheckSide => ({
      name,
      label,
      rounds,
      p50Ms: median(rounds.map((x) => x.p50Ms)),
      p99Ms: median(rounds.map((x) => x.p99Ms)),
      perSec: median(rounds.map((x) => x.perSec)),
      cpuUsPerRequest: median(rounds.map((x) => x.cpuUsPerRequest)),
    });
    const ratio = (f: (x: FraudCheckRound) => number) => round3(median(a.rounds.map((x, i) => f(x) / f(b.rounds[i]!))));
    return {
      plan,
      sluice: side('fraud-check', 'topologies/fraud-check.ts: t.respond + t.actorState (LMDB, exactly-once activity)', a.rounds),
      raw: side('raw-fraud-check', 'hand-written nats.js responder, same rules, in-memory Map', b.rounds),
      p50Ratio: ratio((x) => x.p50Ms),
      p99Ratio: ratio((x) => x.p99Ms),
      throughputRatio: ratio((x) => x.perSec),
      cpuRatio: ratio((x) => x.cpuUsPerRequest),
    };
  } catch (err) {
    return { plan, error: err instanceof Error ? err.message : String(err) };
  } finally {
    await nc?.close().catch(() => undefined);
    for (const p of [sluice, raw]) if (p !== undefined) await p.stop().catch(() => p.kill());
  }
}

/** Publishes every customer's history, the bursts last; returns the customer of the last payment. */
async function publishActivity(nc: NatsConnection, customers: number): Promise<string> {
  const js = jetstream(nc);
  const h = headers();
  h.set('Content-Type', 'application/json');
  const now = Date.now();
  const payments: Payment[] = [];
  for (let c = 0; c < customers; c++) {
    for (let i = 0; i < 3; i++)
      payments.push({
        paymentId: `h-${c}-${i}`,
        customerId: `cust-${c}`,
        amountCents: 2_000 + 500 * i,
        deviceId: 'dev-1',
        country: 'NL',
        at: now - 3_600_000 + i * 60_000,
      });
  }
  let last = '';
  for (let c = 19; c < customers; c += 20) {
    for (let i = 0; i < 5; i++)
      payments.push({ paymentId: `b-${c}-${i}`, customerId: (last = `cust-${c}`), amountCents: 1_000, deviceId: 'dev-1', country: 'NL', at: now - i * 30_000 });
  }
  // The topology creates FRAUD_ACTIVITY as it starts; the first publish waits for it.
  for (let attempt = 0; ; attempt++) {
    try {
      await js.publish('fraud.activity.payment', JSON.stringify(payments[0]), { msgID: payments[0]!.paymentId, headers: h });
      break;
    } catch (err) {
      if (attempt > 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  for (let i = 1; i < payments.length; i += 256) {
    await Promise.all(payments.slice(i, i + 256).map((p) => js.publish('fraud.activity.payment', JSON.stringify(p), { msgID: p.paymentId, headers: h })));
  }
  return last;
}

async function untilDenied(nc: NatsConnection, subject: string, customerId: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const m = await nc.request(
      subject,
      JSON.stringify({ paymentId: 'probe', customerId, amountCents: 3_000, deviceId: 'dev-1', country: 'NL' } satisfies PaymentCheck),
      { timeout: 5_000, headers: jsonHeaders() },
    );
    if (m.json<FraudDecision>().decision === 'deny') return;
    if (Date.now() > deadline) throw new Error(`fraud-check: ${subject} did not see the activity within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Encoded checks of random customers (seeded), paying as usual. */
function makeChecks(plan: FraudCheckPlan): Uint8Array[] {
  const rnd = mulberry32(plan.seed);
  const enc = new TextEncoder();
  return Array.from({ length: 4_096 }, (_, i) =>
    enc.encode(
      JSON.stringify({
        paymentId: `q-${i}`,
        customerId: `cust-${Math.floor(rnd() * plan.customers)}`,
        amountCents: 2_500 + Math.floor(rnd() * 1_000),
        deviceId: 'dev-1',
        country: 'NL',
      } satisfies PaymentCheck),
    ),
  );
}

/** `requests` requests, `inFlight` outstanding at once; latency from send to reply. */
async function closedLoop(
  nc: NatsConnection,
  subject: string,
  checks: Uint8Array[],
  requests: number,
  inFlight: number,
  proc: ProcessorHandle,
): Promise<FraudCheckRound> {
  const hist = createLatencyHistogram();
  const counts = { allow: 0, deny: 0, other: 0, fallbacks: 0, errors: 0 };
  const h = jsonHeaders();
  const before = await proc.mark();
  const started = performance.now();
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < requests) {
      const body = checks[sent++ % checks.length]!;
      const t0 = performance.now();
      try {
        const m = await nc.request(subject, body, { timeout: 5_000, headers: h });
        hist.record(performance.now() - t0);
        const d = m.json<FraudDecision>();
        if (d.by === 'fallback') counts.fallbacks++;
        if (d.decision === 'allow') counts.allow++;
        else if (d.decision === 'deny') counts.deny++;
        else counts.other++;
      } catch {
        counts.errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const ms = performance.now() - started;
  const after = await proc.mark();
  const s = hist.summary();
  return {
    p50Ms: s.p50,
    p99Ms: s.p99,
    maxMs: s.max,
    perSec: Math.round((requests / ms) * 1000),
    cpuUsPerRequest: round3((after.cpuUs - before.cpuUs) / requests),
    ...counts,
  };
}

function jsonHeaders() {
  const h = headers();
  h.set('Content-Type', 'application/json');
  return h;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** The report's section. */
export function fraudCheckMarkdown(r: FraudCheckLatency): string[] {
  const lines = ['## Request/reply: fraud-check at 100 requests in flight', ''];
  if (r.error !== undefined || r.sluice === undefined || r.raw === undefined) return [...lines, `Did not run: ${r.error ?? 'no result'}.`, ''];
  lines.push(
    `A plain nats.js requester keeps ${r.plan.inFlight} \`fraud.check\` requests (JSON) outstanding; ${r.plan.rounds} rounds of ${r.plan.requests.toLocaleString('en')} requests per side, alternating. Figures are medians over the rounds; ratios are medians of the per-round ratios (Sluice ÷ raw).`,
    '',
    '| Side | p50 ms | p99 ms | requests/s | responder CPU µs/request | allow / deny / other, fallbacks, errors (last round) |',
    '|---|---|---|---|---|---|',
  );
  for (const s of [r.sluice, r.raw]) {
    const last = s.rounds.at(-1)!;
    lines.push(
      `| ${s.label} | ${s.p50Ms} | ${s.p99Ms} | ${s.perSec.toLocaleString('en')} | ${s.cpuUsPerRequest} | ${last.allow} / ${last.deny} / ${last.other}, ${last.fallbacks}, ${last.errors} |`,
    );
  }
  lines.push(`| **ratio** (Sluice ÷ raw) | ${r.p50Ratio} | ${r.p99Ratio} | ${r.throughputRatio} | ${r.cpuRatio} | |`, '');
  return lines;
}

/** The closing line `npm run bench` prints. */
export function fraudCheckLine(r: FraudCheckLatency): string {
  if (r.error !== undefined || r.sluice === undefined || r.raw === undefined) return `fraud-check: did not run (${r.error ?? 'no result'})`;
  return (
    `fraud-check at ${r.plan.inFlight} in flight: p50 ${r.sluice.p50Ms} ms vs raw ${r.raw.p50Ms} ms (×${r.p50Ratio}), p99 ${r.sluice.p99Ms} ms vs raw ${r.raw.p99Ms} ms (×${r.p99Ratio}), ` +
    `${r.sluice.perSec} vs ${r.raw.perSec} req/s (×${r.throughputRatio}), CPU/request ×${r.cpuRatio} (medians of ${r.plan.rounds} paired rounds)`
  );
}
