// Transports
export { LocalTransport } from './transport/local-transport.js';
export type { LocalTransportOptions } from './transport/local-transport.js';
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
