/**
 * Polls `cond` until it holds, for tests that wait on real I/O (a broker, a child process, files).
 * Fails after `timeoutMs` saying what it waited for. Time-based operators use virtual time instead.
 */
export async function until(cond: () => boolean | Promise<boolean>, options: { timeoutMs?: number; everyMs?: number; what?: string } = {}): Promise<void> {
  const { timeoutMs = 20_000, everyMs = 20, what = 'condition' } = options;
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Calls `fn` until it resolves (e.g. a publish to a stream the topology creates as it starts), rethrowing its last error after `timeoutMs`. */
export async function retryUntilOk<T>(fn: () => Promise<T>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
