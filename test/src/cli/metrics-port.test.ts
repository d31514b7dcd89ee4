import { describe, expect, it } from 'vitest';
import { prometheusSample } from '../../helpers/prometheus-sample.js';
import { useNatsServer } from '../../helpers/nats-server.js';
import { until } from '../../helpers/until.js';
import { sluice } from './run-cli.js';

describe('sluice run --metrics-port', () => {
  const server = useNatsServer();

  it('serves the running topology’s metrics over HTTP until it stops', { timeout: 60_000 }, async () => {
    const run = sluice(['run', 'topologies/order-routing.ts', 'demo/order-feed.ts', '--nats', server().url, '--metrics-port', '0', '--log-format', 'json']);
    await run.waitFor(/"url":"http:\/\/127\.0\.0\.1:\d+\/metrics"/);
    const url = /"url":"(http:\/\/127\.0\.0\.1:\d+\/metrics)"/.exec(run.output().stderr)![1]!;
    const labels = { topology: 'order-routing', subject: 'shop.fulfilment.standard' };
    let text = '';
    await until(
      async () => {
        text = await (await fetch(url)).text();
        return (prometheusSample(text, 'sluice_end_to_end_latency_seconds_count', labels) ?? 0) > 0;
      },
      { what: 'latency observed for routed orders' },
    );
    expect(prometheusSample(text, 'sluice_events_published_total', labels)).toBeGreaterThan(0);
    expect(prometheusSample(text, 'sluice_dead_letters_total', { topology: 'order-routing' })).toBe(0);
    // The probes an orchestrator polls: alive, and ready only while the broker is reachable.
    const at = (path: string) => url.replace(/\/metrics$/, path);
    expect((await fetch(at('/healthz'))).status).toBe(200);
    const ready = await fetch(at('/readyz'));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, reasons: [] });
    await server().stop();
    let down: { ready: boolean; reasons: string[] } | undefined;
    await until(async () => (down = (await (await fetch(at('/readyz'))).json()) as typeof down)?.ready === false, {
      what: '/readyz not ready with the broker down',
    });
    expect(down?.reasons.join('; ')).toMatch(/the broker connection is down/);
    expect((await fetch(at('/healthz'))).status).toBe(200);
    await server().restart();
    await until(async () => (await fetch(at('/readyz'))).status === 200, { what: '/readyz ready again after the broker is back' });
    run.kill('SIGTERM');
    const result = await run.result;
    expect(result.code, result.stderr).toBe(0);
    await expect(fetch(url)).rejects.toThrow();
  });
});
