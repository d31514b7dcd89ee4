import { afterAll, beforeAll } from 'vitest';
import { NatsServerNotFoundError, startNatsServer, type NatsServerHandle, type NatsServerOptions } from '../../src/runtime/nats-server-process.js';

export type { NatsServerHandle, NatsServerOptions };
export { NatsServerNotFoundError };

let counter = 0;

/** A unique stream/subject/bucket name for one test, e.g. `orders_3_k2x9` (valid in subjects and stream names). */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}_${counter}_${Math.random().toString(36).slice(2, 6)}`;
}

/**
 * The one way tests get a nats-server: a private one on a free port with JetStream in a temp dir,
 * started in `beforeAll` and disposed in `afterAll` (which runs even when tests fail). None uses
 * the server on 127.0.0.1:4222. When nats-server is missing, `beforeAll` fails with an error that
 * says how to install it: tests fail rather than skip, so CI never passes without a broker.
 *
 * ```ts
 * const server = useNatsServer();
 * it('...', async () => { const nc = await connect({ servers: server().url }); ... });
 * ```
 * `server()` also gives `kill()`, `stop()` and `restart()` (same port and store).
 */
export function useNatsServer(options: NatsServerOptions = {}): () => NatsServerHandle {
  let handle: NatsServerHandle | undefined;
  beforeAll(async () => {
    handle = await startNatsServer(options);
  });
  afterAll(async () => {
    await handle?.dispose();
  });
  return () => {
    if (handle === undefined) throw new Error('useNatsServer: the server is not started (call server() inside a test or hook)');
    return handle;
  };
}

/** Starts a server the caller must `dispose()` (in a `finally` or `afterEach`), for tests that need a fresh one. */
export function startTestNatsServer(options: NatsServerOptions = {}): Promise<NatsServerHandle> {
  return startNatsServer(options);
}
