import { map } from 'rxjs';
import { actor, defineTopology, type Envelope } from '../../../src/index.js';
import { customerActivity, type CustomerActivity, type Payment } from '../../../topologies/fraud-check.js';

/** Customers the inputs are spread over: input `n` is a payment of `n` cents by customer `n % CUSTOMERS`. */
export const FRAUD_CUSTOMERS = 7;

/**
 * The activity path of topologies/fraud-check.ts under crashes: stream → payments → `t.actor`
 * with fraud-check's own `customerActivity` behaviour. So that the state can be checked from
 * outside, the behaviour also emits the customer's `{ id, payments, totalCents }` after each
 * payment to `<out>.out` (committed in the same LMDB transaction as the state): a payment applied
 * twice or lost shows in every later output of its customer.
 */
export default function fraudActivity(io: { name: string; stream: string; subjects: string; out: string; ackWaitMs: number }) {
  const inner = customerActivity();
  const counted = actor<CustomerActivity, Payment>({
    name: inner.name,
    key: inner.key,
    initial: inner.initial,
    handle: (s, msg, ctx) => {
      const next = inner.handle(s, msg, ctx) as CustomerActivity;
      if (msg.kind === 'message') ctx.emit(`${io.out}.out`, { id: msg.data.paymentId, payments: next.payments, totalCents: next.totalCents });
      return next;
    },
  });
  return defineTopology(io.name, (t) => {
    const payments = t.stream<{ id: string; n: number }>(io.stream, io.subjects, { ackWaitMs: io.ackWaitMs, maxUnsettled: 256 }).pipe(
      map((e): Envelope<Payment> => {
        const { id, n } = e.data;
        return { ...e, data: { paymentId: id, customerId: `c${n % FRAUD_CUSTOMERS}`, amountCents: n, deviceId: `d${n % 3}`, country: 'NL', at: n * 1_000 } };
      }),
    );
    t.actor(counted, payments, { reportEveryMs: 0 });
  });
}
