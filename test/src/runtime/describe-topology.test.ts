import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import { describeTopology, formatTopologyDescription } from '../../../src/runtime/describe-topology.js';
import orderRouting from '../../../topologies/order-routing.js';

describe('describeTopology', () => {
  it('lists sources, streams and sinks in build order without running anything', () => {
    let subscribed = false;
    const topology = defineTopology('wired', (t) => [
      t.source('a.in', { queue: 'workers' }).pipe(
        map((e) => ((subscribed = true), e)),
        t.sink('a.out'),
      ),
      t.stream('ORDERS', ['o.>'], { durableName: 'reader' }).pipe(t.sink('o.copy', { durable: true })),
    ]);
    const d = describeTopology(topology);
    expect(d).toEqual({
      name: 'wired',
      deadLetterSubject: 'sluice.dlq.wired',
      nodes: [
        { kind: 'source', subject: 'a.in', queue: 'workers' },
        {
          kind: 'sink',
          name: 'a.out',
          subject: 'a.out',
          durable: false,
          paths: [{ from: 'a.in', guarantee: 'at-most-once', because: 'core NATS subject: nothing to redeliver' }],
          incomplete: undefined,
        },
        { kind: 'stream', subject: 'o.>', stream: 'ORDERS', durableName: 'reader', ordered: false, maxUnsettled: 1000 },
        {
          kind: 'sink',
          name: 'o.copy',
          subject: 'o.copy',
          durable: true,
          paths: [
            { from: 'ORDERS (o.>)', guarantee: 'exactly-once', because: 'output ids derive from input positions; re-publishes fall in the duplicate window' },
          ],
          incomplete: undefined,
        },
      ],
      paths: [
        { from: 'a.in', to: 'a.out', guarantee: 'at-most-once', because: 'core NATS subject: nothing to redeliver' },
        {
          from: 'ORDERS (o.>)',
          to: 'o.copy',
          guarantee: 'exactly-once',
          because: 'output ids derive from input positions; re-publishes fall in the duplicate window',
        },
      ],
    });
    expect(subscribed).toBe(false);
  });

  it("documents order-routing's subjects", () => {
    expect(formatTopologyDescription(describeTopology(orderRouting))).toBe(
      [
        'topology order-routing',
        '  in   shop.orders.*  (queue order-routing)  core NATS',
        '  out  shop.fulfilment.priority, shop.fulfilment.standard  core NATS',
        '  dead letters  sluice.dlq.order-routing',
        '  paths',
        '    shop.orders.* -> shop.fulfilment.priority, shop.fulfilment.standard  at-most-once  (core NATS subject: nothing to redeliver)',
      ].join('\n'),
    );
  });

  it('calls a pipeline that answers requests at-most-once: nothing redelivers a request', () => {
    const topology = defineTopology('answers', (t) =>
      t.source<number>('svc.double').pipe(
        map((e) => ({ ...e, data: e.data * 2 })),
        t.sink((e) => e.reply!, { name: 'reply' }),
      ),
    );
    expect(describeTopology(topology).paths).toEqual([
      { from: 'svc.double', to: '(chosen per value)', guarantee: 'at-most-once', because: 'core NATS subject: nothing to redeliver' },
    ]);
  });
});
