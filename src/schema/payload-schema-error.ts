import { describeOrigin, TerminalError, type MessageOrigin } from '../errors.js';

/**
 * A payload does not match its edge's schema. Terminal: redelivering the same bytes cannot make
 * them valid, so the message goes to the dead letters at once. The message names the subject,
 * the stream position and every failing field path, e.g.
 * `payload on subject 'shop.orders.web' (stream ORDERS, seq 7) does not match its schema: items[2].sku: expected string`.
 */
export class PayloadSchemaError extends TerminalError {
  override readonly name = 'PayloadSchemaError';
  constructor(
    readonly origin: MessageOrigin,
    /** `<path>: <message>` per issue (`(root)` for the value itself). */
    readonly issues: readonly string[],
    options?: ErrorOptions,
  ) {
    super(`payload on ${describeOrigin(origin)} does not match its schema: ${issues.join('; ')}`, options);
  }
}
