import { nuid } from '@nats-io/nats-core';

// A nuid (random, unique across processes) once, then a counter: unique like a nuid per id, at a
// third of its cost (a nuid per message was a visible share of forwarding a message).
const prefix = nuid.next();
let counter = 0;

/** A fresh id, unique across processes and restarts: this process's nuid and a base-36 counter. */
export function uniqueId(): string {
  return prefix + (counter++).toString(36);
}
