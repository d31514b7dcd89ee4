import { nuid } from '@nats-io/nats-core';

/**
 * A fresh inbox subject, `_INBOX.<unique>`, as NATS clients make them: for replies that come
 * back on a subject of your own (an actor's `ctx.reply` to `askActor`). Unique per process and
 * across processes, and a single token after the prefix.
 */
export function newInbox(): string {
  return `_INBOX.${nuid.next()}`;
}
