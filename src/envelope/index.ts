export type { Envelope } from './envelope.js';
export { HEADERS } from './envelope.js';
export { makeEnvelope } from './make-envelope.js';
export type { EnvelopeInit } from './make-envelope.js';
