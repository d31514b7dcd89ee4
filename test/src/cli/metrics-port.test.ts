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
    run.kill('SIGTERM');
    const result = await run.result;
    expect(result.code, result.stderr).toBe(0);
    await expect(fetch(url)).rejects.toThrow();
  });
});
