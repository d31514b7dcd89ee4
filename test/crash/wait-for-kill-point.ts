import type { CrashChild } from './crash-child.js';

/** What ended the wait for a kill: the drawn target, every input read, the child's exit, or the last-resort timer. */
export type KillPoint = 'target' | 'all read' | 'exited' | 'fallback';

/**
 * Waits for the moment to SIGKILL a crash child: `reached()` (its count at the target drawn for
 * this run) after one of its stdout lines, or `allRead()` (polled every `everyMs`; a rejection
 * counts as not yet) once every input is read and handed over. The second matters when a child
 * is fast or little is left: it reads everything before its count reaches the target, which then
 * never comes, and the kill lands while the child still works on what it read. `fallbackMs` only
 * bounds a child that is stuck (default 20 s): the caller says so in its timeline.
 */
export async function waitForKillPoint(
  child: CrashChild,
  reached: () => boolean,
  allRead: () => Promise<boolean>,
  options: { everyMs?: number | undefined; fallbackMs?: number | undefined } = {},
): Promise<KillPoint> {
  const { everyMs = 20, fallbackMs = 20_000 } = options;
  let waiting = true;
  let timer: NodeJS.Timeout | undefined;
  const read = new Promise<KillPoint>((resolve) => {
    void (async () => {
      while (waiting) {
        if (await allRead().catch(() => false)) return resolve('all read');
        await new Promise((r) => setTimeout(r, everyMs));
      }
    })();
  });
  try {
    return await Promise.race([
      Promise.race([child.when(reached), child.exited]).then((): KillPoint => (reached() ? 'target' : 'exited')),
      read,
      new Promise<KillPoint>((resolve) => (timer = setTimeout(() => resolve('fallback'), fallbackMs))),
    ]);
  } finally {
    waiting = false;
    clearTimeout(timer);
  }
}
