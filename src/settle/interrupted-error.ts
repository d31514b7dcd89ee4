/**
 * Work on an input stopped before its effects were complete: the pipeline was unsubscribed (a
 * stop, a crash of the stage) or the operator holding it ended. The input's settlement is failed
 * with it, so the source delivers the input again rather than acknowledging it.
 */
export class InterruptedError extends Error {
  override readonly name = 'InterruptedError';
  constructor(
    readonly component: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`${component}: ${detail}`, options);
  }
}
