/** Headers on an actor's answer (a state query, an ask, a waited reset): found/stopped, or an error and its code. */
export const ACTOR_QUERY_HEADERS = {
  /** `true` when the key has committed state, `false` when the answer is `initial(key)`. */
  found: 'Sluice-Actor-Found',
  /** Present (`true`) when supervision stopped the key. */
  stopped: 'Sluice-Actor-Stopped',
  /** As in @nats-io/services: an error description and an HTTP-like code. */
  error: 'Nats-Service-Error',
  errorCode: 'Nats-Service-Error-Code',
} as const;
