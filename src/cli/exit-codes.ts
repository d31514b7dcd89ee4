/**
 * The exit codes of every `sluice` command, one table for scripts (docs/operations.md):
 *
 * - `ok` 0: done (`run`/`ingest`: stopped on a signal or `--duration-ms` and drained, or completed).
 * - `failed` 1: the work failed: a topology failed or could not start, the topology answered
 *   with an error, a replay left records it could not replay, a module that does not load.
 * - `usage` 2: bad usage: an unknown command or flag, a bad value, a name that cannot be a
 *   subject token, no NATS server given where one is required.
 * - `unreachable` 3: no answer: NATS cannot be reached, or the topology (or actor) asked is not
 *   running on it (nothing answered in `--timeout-ms`). Retrying later may help.
 * - `refused` 4: refused: the topology does not allow the request (control endpoints need
 *   `--allow-control`), or the NATS user may not publish it.
 * - `interrupted` 130: a second SIGINT/SIGTERM ended `run`/`ingest` without finishing the drain.
 *
 * `run` and `ingest` connect once at start: a connection that cannot be made is a start that
 * failed (1), reported with its reason.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3, refused: 4, interrupted: 130 } as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
