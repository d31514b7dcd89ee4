import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import { describeTopology, formatTopologyDescription } from '../../../src/runtime/describe-topology.js';
import { createOrderRouting } from '../../../topologies/order-routing.js';

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
        { kind: 'sink', subject: 'a.out', durable: false },
        { kind: 'stream', subject: 'o.>', stream: 'ORDERS', durableName: 'reader' },
        { kind: 'sink', subject: 'o.copy', durable: true },
      ],
    });
    expect(subscribed).toBe(false);
  });

  it("documents order-routing's subjects", () => {
    expect(formatTopologyDescription(describeTopology(createOrderRouting()))).toBe(
      [
        'topology order-routing',
        '  in   shop.orders.*  (queue order-routing)  core NATS',
        '  out  shop.fulfilment.priority, shop.fulfilment.standard  core NATS',
        '  dead letters  sluice.dlq.order-routing',
      ].join('\n'),
    );
  });
});
