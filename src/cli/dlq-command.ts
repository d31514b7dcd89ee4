import type cliProgress from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import { ensureError, NoRespondersError, RequestTimeoutError } from '../errors.js';
import { serviceSubject } from '../runtime/serve-topology-service.js';
import { NatsTransport } from '../transport/nats/nats-transport.js';
import { EXIT } from './exit-codes.js';
import { natsOptionsFromFlags, type NatsFlags } from './nats-options-from-flags.js';
import { CliExitError, connectedFor } from './ops-connection.js';
import { permissionViolation } from '../transport/nats/permission-violation.js';

interface DlqFlags extends NatsFlags {
  subject?: string | undefined;
  reason?: string | undefined;
  since?: number | undefined;
  until?: number | undefined;
  status?: string[] | undefined;
  limit?: number | undefined;
  fromSeq?: number | undefined;
  parked?: boolean | undefined;
  timeoutMs?: number | undefined;
  json?: boolean | undefined;
}

/**
 * `sluice dlq list|show|replay <topology>`: lists, shows and replays a running topology's dead
 * letters through its service endpoints (`sluice.svc.<topology>.dead-letters`, `.dead-letter`,
 * `.replay`). A table on stdout, or one JSON document with `--json`; errors are one line on
 * stderr with an exit code from {@link EXIT} (0 done; 1 the topology answered with an error, or a replay
 * left records it could not replay; 2 usage; 3 no answer; 4 refused). `done` receives the exit code.
 */
export function dlqCommand(done: (code: number) => void): Command {
  // addCommand does not pass the parent's settings on: exit codes stay main's (usage errors → 2).
  const dlq = new Command('dlq')
    .description("List, show and replay a running topology's dead letters (over its NATS service).")
    .exitOverride()
    .showHelpAfterError();
  const common = (c: Command, filters: boolean): Command => {
    c.option('--nats <url>', 'NATS server URL(s) [env NATS_URL]')
      .option('--creds <file>', 'credentials file [env NATS_CREDS]')
      .option('--nkey <file>', 'nkey seed file [env NATS_NKEY]')
      .option('--token <token>', 'auth token [env NATS_TOKEN; prefer it]')
      .option('--user <user>', 'user name [env NATS_USER]')
      .option('--password <password>', 'password [env NATS_PASSWORD; prefer it]')
      .option('--tls-ca <file>', 'CA certificate [env NATS_CA]')
      .option('--tls-cert <file>', 'client certificate [env NATS_CERT]')
      .option('--tls-key <file>', 'client key [env NATS_KEY]')
      .option('--timeout-ms <n>', 'how long to wait for the topology, ms (default 10000)', positiveInt)
      .option('--json', 'print one JSON document instead of a table');
    if (filters) {
      c.option('--subject <pattern>', 'original subject, NATS wildcards allowed (shop.orders.>)')
        .option('--reason <text>', 'text in "<error name>: <message>", case-insensitive')
        .option('--since <time>', 'failed at or after: ISO time, epoch ms, or an age such as 30m, 2h, 7d', time)
        .option('--until <time>', 'failed before: ISO time, epoch ms, or an age', time)
        .option('--from-seq <n>', 'start at this dead-letter sequence (default: the newest records)', positiveInt)
        .option('--limit <n>', 'records at most', positiveInt);
    }
    return c;
  };

  common(dlq.command('list'), true)
    .description('List dead-letter records, newest last: seq, status (dead, parked, replayed), time, subject, error.')
    .argument('<topology>', 'topology name')
    .option('--status <list>', 'only these statuses, comma-separated (dead,parked,replayed)', statuses)
    .action(async (topology: string, flags: DlqFlags) => {
      done(
        await guarded(flags, topology, 'dead-letters', { ...filterBody(flags), status: flags.status, limit: flags.limit ?? 20 }, (body) =>
          flags.json === true ? JSON.stringify(body) : listTable(body as ListBody),
        ),
      );
    });

  common(dlq.command('show'), false)
    .description('Show one dead-letter record: where it came from, why it failed, its headers and payload.')
    .argument('<topology>', 'topology name')
    .argument('<seq>', 'sequence in the dead-letter stream', positiveInt)
    .action(async (topology: string, seq: number, flags: DlqFlags) => {
      done(await guarded(flags, topology, 'dead-letter', { seq }, (body) => (flags.json === true ? JSON.stringify(body) : showText(body as ShowBody))));
    });

  common(dlq.command('replay'), true)
    .description('Replay dead letters exactly once (needs the topology run with --allow-control); parked records only with --parked.')
    .argument('<topology>', 'topology name')
    .option('--parked', 'replay parked records too (replays that already failed again)')
    .action(async (topology: string, flags: DlqFlags) => {
      done(await replay(topology, flags));
    });
  return dlq;
}

type Endpoint = 'dead-letters' | 'dead-letter' | 'replay';

/** Records a replay request asks for at most: the CLI replays in chunks to show progress. */
export const REPLAY_CHUNK = 100;
/** Records `sluice dlq replay` replays at most without `--limit`. */
const REPLAY_LIMIT = 1000;

/** Connects, asks the endpoint, prints the answer; turns every failure into one line and a code. */
async function guarded(
  flags: DlqFlags,
  topology: string,
  endpoint: Endpoint,
  body: Record<string, unknown>,
  render: (answer: unknown) => string,
): Promise<number> {
  try {
    const answer = await withTransport(flags, (transport) => ask(transport, flags, topology, endpoint, body));
    process.stdout.write(`${render(answer)}\n`);
    return EXIT.ok;
  } catch (err) {
    return printed(err);
  }
}

function printed(err: unknown): number {
  const e = err instanceof CliExitError ? err : new CliExitError(EXIT.failed, ensureError(err).message);
  process.stderr.write(`sluice: ${e.message.replace(/[\r\n]+/g, ' ')}\n`);
  return e.code;
}

/**
 * Replays oldest first in requests of {@link REPLAY_CHUNK} records, each going on from the
 * previous one's `nextSeq`, up to `--limit` (default 1000): a bar on stderr when it is a
 * terminal and the output is a table, then one summary (or one JSON document) for all chunks.
 * The topology's exactly-once markers make a chunk cut off by a failure safe to run again.
 */
async function replay(topology: string, flags: DlqFlags): Promise<number> {
  const limit = flags.limit ?? REPLAY_LIMIT;
  const total: ReplayBody = { replayed: 0, skipped: 0, failed: [], records: [], nextSeq: flags.fromSeq ?? 1 };
  let bar: cliProgress.SingleBar | undefined;
  let error: unknown;
  try {
    await withTransport(flags, async (transport) => {
      const filters = { ...filterBody(flags), fromSeq: total.nextSeq };
      if (flags.json !== true && process.stderr.isTTY === true) {
        const status = flags.parked === true ? ['dead', 'parked'] : ['dead'];
        const listed = (await ask(transport, flags, topology, 'dead-letters', { ...filters, status, limit: 1 })) as ListBody;
        // Loaded here: only a replay on a terminal draws the bar (17 modules the other commands skip).
        const { default: progress } = await import('cli-progress');
        bar = new progress.SingleBar(
          { stream: process.stderr, format: 'replaying [{bar}] {value}/{total} records', hideCursor: true, clearOnComplete: true },
          progress.Presets.shades_classic,
        );
        bar.start(Math.min(limit, listed.matched ?? 0), 0);
      }
      for (let first = true; total.records.length + total.failed.length < limit; first = false) {
        const chunk = Math.min(REPLAY_CHUNK, limit - total.records.length - total.failed.length);
        const r = (await ask(transport, flags, topology, 'replay', {
          ...filters,
          fromSeq: total.nextSeq,
          limit: chunk,
          includeParked: flags.parked === true,
        })) as ReplayBody;
        total.replayed += r.replayed;
        // Each answer counts what it skipped from its fromSeq to the stream's end: the first one counts them all.
        if (first) total.skipped = r.skipped;
        total.failed.push(...r.failed);
        total.records.push(...r.records);
        total.nextSeq = r.nextSeq;
        bar?.increment(r.records.length + r.failed.length);
        if (r.records.length + r.failed.length < chunk) break;
      }
    });
  } catch (err) {
    error = err;
  } finally {
    bar?.stop();
  }
  if (error !== undefined && total.records.length + total.failed.length === 0) return printed(error);
  process.stdout.write(`${flags.json === true ? JSON.stringify(total) : replayText(total)}\n`);
  if (error !== undefined) return printed(error);
  if (total.failed.length > 0) process.stderr.write(`sluice: ${total.failed.length} record(s) could not be replayed (listed above)\n`);
  return total.failed.length > 0 ? EXIT.failed : EXIT.ok;
}

async function withTransport<T>(flags: DlqFlags, work: (transport: NatsTransport) => Promise<T>): Promise<T> {
  let options;
  try {
    options = natsOptionsFromFlags(flags, process.env);
  } catch (err) {
    throw new CliExitError(EXIT.usage, ensureError(err).message);
  }
  if (options === undefined) throw new CliExitError(EXIT.usage, 'sluice dlq needs the NATS system the topology runs on: give --nats <url> or set NATS_URL');
  return connectedFor({ ...options, name: 'sluice-dlq' }, work);
}

async function ask(transport: NatsTransport, flags: DlqFlags, topology: string, endpoint: Endpoint, body: Record<string, unknown>): Promise<unknown> {
  const subject = serviceSubject(topology, endpoint);
  const timeoutMs = flags.timeoutMs ?? 10_000;
  try {
    const reply = await transport.request(subject, new TextEncoder().encode(JSON.stringify(dropUndefined(body))), { timeoutMs });
    const code = reply.headers['Nats-Service-Error-Code'];
    if (code !== undefined) {
      const reason = reply.headers['Nats-Service-Error'] ?? 'error';
      throw new CliExitError(code === '403' ? EXIT.refused : EXIT.failed, `${topology}: ${reason} (${code})`);
    }
    return JSON.parse(new TextDecoder().decode(reply.data)) as unknown;
  } catch (err) {
    if (err instanceof CliExitError) throw err;
    if (permissionViolation(err)) throw new CliExitError(EXIT.refused, `permission denied: this NATS user may not publish to ${subject}`);
    if (err instanceof NoRespondersError || err instanceof RequestTimeoutError) {
      throw new CliExitError(
        EXIT.unreachable,
        `topology '${topology}' did not answer on ${subject} (${err instanceof NoRespondersError ? 'no responders' : `no reply in ${timeoutMs} ms`}): is it running on this NATS system?`,
      );
    }
    throw err;
  }
}

function filterBody(flags: DlqFlags): Record<string, unknown> {
  return { subject: flags.subject, reason: flags.reason, sinceMs: flags.since, untilMs: flags.until, fromSeq: flags.fromSeq };
}

function dropUndefined(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}

interface Summary {
  seq: number;
  status: string;
  subject: string;
  operator: string;
  error: { name: string; message: string };
  failedAt: number;
  stream?: string;
  streamSeq?: number;
  key?: string;
  bytes: number;
  truncated: boolean;
  replayOf?: string;
  replayAttempt?: number;
}
interface ListBody {
  stream: string | null;
  messages: number | null;
  matched?: number;
  entries: Summary[];
}
interface ShowBody extends Summary {
  record: { headers: Record<string, string>; payload: string; attempts: number; id: string };
  replay?: { at: number; to?: { stream: string; seq: number } };
}
interface ReplayBody {
  replayed: number;
  skipped: number;
  failed: Array<{ seq: number; reason: string }>;
  records: Array<{ seq: number; subject: string; attempt: number; to?: { stream: string; seq: number; duplicate: boolean } }>;
  nextSeq: number;
}

function listTable(body: ListBody): string {
  if (body.stream === null) return 'dead letters are not kept in a stream by this topology (no JetStream)';
  const rows = body.entries.map((e) => [String(e.seq), e.status, iso(e.failedAt), e.subject, e.operator, oneLine(`${e.error.name}: ${e.error.message}`, 60)]);
  const footer = `${body.entries.length} shown, ${body.matched ?? body.entries.length} matching, ${body.messages ?? 0} messages in ${body.stream}`;
  return `${table(['SEQ', 'STATUS', 'FAILED AT', 'SUBJECT', 'OPERATOR', 'ERROR'], rows)}\n${footer}`;
}

function showText(e: ShowBody): string {
  const payload = Buffer.from(e.record.payload, 'base64');
  const lines: Array<[string, string]> = [
    ['seq', String(e.seq)],
    [
      'status',
      e.status + (e.replay !== undefined ? ` at ${iso(e.replay.at)}${e.replay.to !== undefined ? ` to ${e.replay.to.stream}/${e.replay.to.seq}` : ''}` : ''),
    ],
    ['subject', e.subject],
    ['from', e.stream !== undefined ? `${e.stream}/${e.streamSeq}` : '(core subject)'],
    ['message id', e.record.id],
    ['key', e.key ?? '-'],
    ['operator', e.operator],
    ['error', oneLine(`${e.error.name}: ${e.error.message}`, 500)],
    ['failed at', iso(e.failedAt)],
    ['attempts', String(e.record.attempts)],
    [
      'payload',
      `${e.bytes} bytes${e.truncated ? ` (truncated to ${payload.length}; the original is ${e.stream !== undefined ? `${e.stream}/${e.streamSeq}` : 'lost'})` : ''}`,
    ],
  ];
  if (e.replayOf !== undefined) lines.push(['parked', `replay ${e.replayAttempt} of ${e.replayOf} failed again`]);
  for (const [k, v] of Object.entries(e.record.headers)) lines.push([`header ${k}`, v]);
  lines.push(['payload preview', preview(payload)]);
  const width = Math.max(...lines.map(([k]) => k.length));
  return lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

function replayText(r: ReplayBody): string {
  const rows = r.records.map((x) => [
    String(x.seq),
    x.subject,
    String(x.attempt),
    x.to === undefined ? 'core publish' : `${x.to.stream}/${x.to.seq}${x.to.duplicate ? ' (already there)' : ''}`,
  ]);
  const out = [r.records.length > 0 ? table(['SEQ', 'SUBJECT', 'ATTEMPT', 'TO'], rows) : ''];
  for (const f of r.failed) out.push(`not replayed: seq ${f.seq}: ${oneLine(f.reason, 200)}`);
  out.push(`replayed ${r.replayed}, skipped ${r.skipped} (already replayed or parked), failed ${r.failed.length}; continue from seq ${r.nextSeq}`);
  return out.filter((l) => l !== '').join('\n');
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

function preview(bytes: Uint8Array): string {
  const head = bytes.subarray(0, 120);
  const text = Buffer.from(head).toString('utf8');
  // Printable text reads as text; anything else as hex.
  const shown = /^[\x20-\x7e\s]*$/.test(text) ? JSON.stringify(text) : Buffer.from(head).toString('hex');
  return bytes.length > head.length ? `${shown} ...` : shown;
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : '-';
}

function oneLine(text: string, max: number): string {
  const line = text.replace(/[\r\n]+/g, ' ');
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected an integer >= 1, got '${value}'`);
  return n;
}

const AGE = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`/`--until`: an age before now (`30m`), epoch ms, or an ISO time. */
function time(value: string): number {
  const age = AGE.exec(value);
  if (age !== null) return Date.now() - Number(age[1]) * UNIT_MS[age[2]!]!;
  if (/^\d+$/.test(value)) return Number(value);
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new InvalidArgumentError(`expected an ISO time, epoch ms or an age such as 30m, got '${value}'`);
  return ms;
}

function statuses(value: string): string[] {
  const list = value.split(',').map((s) => s.trim());
  for (const s of list) if (!['dead', 'parked', 'replayed'].includes(s)) throw new InvalidArgumentError(`expected dead, parked or replayed, got '${s}'`);
  return list;
}
