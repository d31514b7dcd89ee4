// Transports
export { LocalTransport } from './transport/local-transport.js';
export type { LocalTransportOptions } from './transport/local-transport.js';
export { NatsTransport } from './transport/nats-transport.js';
export { NATS_ENV, natsConnectOptionsFromEnv, redactConnectOptions, redactUrl } from './transport/nats-connect-options.js';
export type { NatsConnectOptions, NatsTlsOptions } from './transport/nats-connect-options.js';
export { subjectMatches, subjectsOverlap, validateSubject } from './transport/subject.js';
export type {
  ConsumeOptions,
  DurablePublishOptions,
  PubAck,
  PublishOptions,
  RequestOptions,
  StreamConfig,
  StreamMessage,
  StreamState,
  SubscribeOptions,
  Transport,
} from './transport/transport.js';
