import { describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.js';
import type { Envelope } from '../../../src/envelope/envelope.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import { startTestNatsServer, useNatsServer } from '../../helpers/nats-server.js';
import { cleanEnv, logMessages, sluice } from './run-cli.js';

// `sluice run`'s summary: a line per part and a totals line, every --summary-every-ms and once at the end.
const SUMMARY = /^order-routing \d+s \| source shop\.orders\.\* +in [\d,]+ \([\d,]+\/s\) out [\d,]+ \| dlq 0$/m;
const DONE = /^order-routing done \d+s \| total in (?<in>[\d,]+) \([\d,]+\/s\) out (?<out>[\d,]+) \| dlq 0 \| (?<subjects>.+)$/m;
const FED = /^order-feed done \d+s \| total in 0 \(0\/s\) out (?<generated>[\d,]+) \| dlq 0/m;
/** A count of the summary (`1,234`), as a number. */
const num = (text: string | undefined): number => Number((text ?? 'NaN').replace(/,/g, ''));
/** What the final totals line says went out on `subject` (0 when it names no such subject). */
const outOn = (subjects: string, subject: string): number => num(new RegExp(`${subject.replace(/\./g, '\\.')} ([\\d,]+) \\(`).exec(subjects)?.[1] ?? '0');
const ROUTING = 'topologies/order-routing.ts';
// The demo driver that publishes generated orders, run beside the topology.
const FEED = 'demo/order-feed.ts';

describe('sluice run', () => {
  const server = useNatsServer();

  it(
    '--nats URL: runs on that server (another client sees the routed orders), exits 0 at --duration-ms, and logs the final summary',
    { timeout: 60_000 },
    async () => {
      const client = await NatsTransport.connect({ servers: server().url });
      const routed: Envelope<Uint8Array>[] = [];
      const sub = client.subscribe('shop.fulfilment.*').subscribe((e) => routed.push(e));
      await client.flush();
      try {
        const result = await sluice(['run', ROUTING, FEED, '--nats', server().url, '--duration-ms', '1500']).result;
        expect(result.code, result.stderr).toBe(0);
        const log = logMessages(result.stderr);
        expect(log).toContain(`on nats ${server().url} for 1500 ms`);
        // Piped stderr: no live summary by default, but the final one all the same.
        expect(log).not.toMatch(SUMMARY);
        expect(log).toMatch(/^order-routing done \d+s \| sink fulfilment +in [\d,]+ /m);
        expect(log).toMatch(/stopped at --duration-ms, drained/);
        const done = DONE.exec(log)!.groups!;
        await client.flush();
        const priority = outOn(done.subjects!, 'shop.fulfilment.priority');
        const standard = outOn(done.subjects!, 'shop.fulfilment.standard');
        expect(priority).toBeGreaterThan(0);
        expect(standard).toBeGreaterThan(0);
        expect(priority + standard).toBe(num(done.out));
        expect(routed.length).toBe(num(done.out));
      } finally {
        sub.unsubscribe();
        await client.close();
      }
    },
  );

  it('SIGTERM: drains in-flight work and exits 0', { timeout: 60_000 }, async () => {
    const run = sluice(['run', ROUTING, FEED, '--nats', server().url, '--summary-every-ms', '200'], cleanEnv({ ORDER_RATE_PER_SEC: '5000' }));
    await run.waitFor(/"msg":"order-routing \d+s \| total in [1-9]/); // a live summary with orders in, in the JSON log
    run.kill('SIGTERM');
    const result = await run.result;
    expect(result.code, result.stderr).toBe(0);
    const log = logMessages(result.stderr);
    expect(log).toMatch(/stopped on request, drained/);
    expect(log).toMatch(SUMMARY);
    const done = DONE.exec(log)?.groups;
    expect(done, log).toBeDefined();
    // Nothing in flight was lost: everything the feed published was received and routed before exit.
    expect(outOn(done!.subjects!, 'shop.fulfilment.priority') + outOn(done!.subjects!, 'shop.fulfilment.standard')).toBe(num(done!.in));
    expect(num(done!.out)).toBe(num(done!.in));
    expect(num(done!.in)).toBe(num(FED.exec(log)?.groups!.generated));
    expect(result.stderr).toMatch(/"signal":"SIGTERM"/);
  });

  it('never logs secrets: a password from flags stays out of stdout and stderr, on success and on refusal', { timeout: 60_000 }, async () => {
    const secure = await startTestNatsServer({ config: { authorization: { user: 'alice', password: 's3cret-pw-42' } } });
    try {
      const ok = await sluice([
        'run',
        ROUTING,
        FEED,
        '--nats',
        secure.url,
        '--user',
        'alice',
        '--password',
        's3cret-pw-42',
        '--duration-ms',
        '500',
        '--log-level',
        'trace',
      ]).result;
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout + ok.stderr).not.toContain('s3cret-pw-42');
      const inUrl = secure.url.replace('nats://', 'nats://alice:s3cret-pw-42@');
      const refused = await sluice(['run', ROUTING, FEED, '--nats', inUrl.replace('42@', '43@'), '--duration-ms', '500', '--log-level', 'trace']).result;
      expect(refused.code).toBe(1);
      expect(refused.stdout + refused.stderr).not.toMatch(/s3cret-pw-4/);
      expect(refused.stderr).toMatch(/alice:\*\*\*@/);
    } finally {
      await secure.dispose();
    }
  });

  it('exits 1 when a pipeline fails', { timeout: 60_000 }, async () => {
    const result = await sluice(['run', 'test/src/cli/fixtures/failing-topology.ts', '--nats', server().url]).result;
    expect(result.code).toBe(1);
    expect(logMessages(result.stderr)).toMatch(/failing FAILED/);
    expect(result.stderr).toMatch(/pipeline blew up/);
  });

  it('explains a missing file (exit 1)', { timeout: 60_000 }, async () => {
    const missing = await sluice(['run', 'topologies/nope.ts']).result;
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/'topologies\/nope\.ts' does not exist/);
  });
});

// In-process: commands that neither connect nor install signal handlers.
describe('sluice (in-process)', () => {
  async function capture(args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
    try {
      return { code: await main(['node', 'sluice', ...args]), out, err };
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
  }

  it('describe: prints what a topology reads and writes', async () => {
    const text = await capture(['describe', 'topologies/order-routing.ts']);
    expect(text.code).toBe(0);
    expect(text.out).toContain('out  shop.fulfilment.priority, shop.fulfilment.standard  core NATS');
    const json = await capture(['describe', 'topologies/low-stock.ts', '--json']);
    expect(JSON.parse(json.out)).toMatchObject({ format: 'sluice.describe/1', name: 'low-stock', deadLetterSubject: 'sluice.dlq.low-stock' });
    expect(JSON.parse(json.out).subjects).toContainEqual(
      expect.objectContaining({ subject: 'shop.stock.low', direction: 'out', payload: expect.objectContaining({ required: ['sku', 'onHand'] }) }),
    );
    const asyncapi = await capture(['describe', 'topologies/inventory.ts', '--asyncapi']);
    expect(asyncapi.code).toBe(0);
    const doc = JSON.parse(asyncapi.out) as { asyncapi: string; channels: Record<string, { address: string }> };
    expect(doc.asyncapi).toBe('3.0.0');
    expect(Object.values(doc.channels).map((c) => c.address)).toContain('sluice.dlq.inventory.stock');
    expect((await capture(['describe', 'topologies/nope.ts'])).code).toBe(1);
  });

  it('usage errors exit 2', async () => {
    const usage = await capture(['run']);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/missing required argument 'files'/);
    expect((await capture(['run', 'x.ts', '--duration-ms', '-5'])).code).toBe(2);
    expect((await capture(['nope'])).code).toBe(2);
    // The benchmarks are `npm run bench`, not a product command.
    expect((await capture(['bench', '--quick'])).code).toBe(2);
  });
});
