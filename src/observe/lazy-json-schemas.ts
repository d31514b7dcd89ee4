import type { WiringNode } from './wiring-node.js';

/**
 * `node` with each key of `schemas` as a property computed on first read and then kept: an edge's
 * published JSON Schema is wanted only when someone asks for the topology's contract (`sluice
 * describe`, the service's describe endpoint), and zod derives it at about a millisecond per
 * schema, which a start should not pay (issue 14, start-up). A property that computes to
 * undefined reads as undefined, as an absent one does; a spread of the node computes it.
 */
export function withLazyJsonSchemas(node: WiringNode, schemas: { readonly [K in 'payload' | 'replyPayload' | 'payloads']?: () => WiringNode[K] }): WiringNode {
  for (const [key, compute] of Object.entries(schemas) as [string, () => unknown][]) {
    let done = false;
    let value: unknown;
    Object.defineProperty(node, key, {
      enumerable: true,
      configurable: true,
      get: () => {
        if (!done) {
          value = compute();
          done = true;
        }
        return value;
      },
    });
  }
  return node;
}
