import { createCustomerContext } from '../../../topologies/customer-context.js';

/** topologies/customer-context.ts as it ships, with a short ack wait so a killed run's inputs come back soon. */
export default function customerContext(params: { ackWaitMs: number; recentLimit: number }) {
  return createCustomerContext({ ackWaitMs: params.ackWaitMs, recentLimit: params.recentLimit });
}
