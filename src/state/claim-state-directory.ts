import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StateDirectoryInUseError } from './state-errors.js';

const OWNER_FILE = 'sluice.owner';
const held = new Map<string, number>();

/**
 * Claims a state directory for this process: one process per store. A second process on the
 * same store would read the same checkpoints (and so repeat the same work), and while one of
 * them holds LMDB's write lock the other blocks in a synchronous call, deaf to SIGTERM.
 *
 * The claim is a file naming the owner's pid and start time; a claim whose process is gone (a
 * crash, SIGKILL) or whose pid now belongs to another process is taken over. Claims within one
 * process are counted, so a store may be opened more than once by the same process.
 *
 * @returns the release function (removes the claim when the last opener releases it).
 * @throws StateDirectoryInUseError when a live process holds the claim.
 */
export function claimStateDirectory(dir: string): () => void {
  const file = join(dir, OWNER_FILE);
  const count = held.get(file) ?? 0;
  if (count === 0) {
    const owner = readOwner(file);
    if (owner !== undefined && owner.pid !== process.pid && isAlive(owner)) throw new StateDirectoryInUseError(dir, owner.pid);
    writeFileSync(file, JSON.stringify({ pid: process.pid, started: startTimeOf(process.pid) }));
  }
  held.set(file, count + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (held.get(file) ?? 1) - 1;
    if (left > 0) {
      held.set(file, left);
      return;
    }
    held.delete(file);
    if (readOwner(file)?.pid === process.pid) rmSync(file, { force: true });
  };
}

interface Owner {
  pid: number;
  started?: string | undefined;
}

function readOwner(file: string): Owner | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<Owner>;
    return typeof parsed.pid === 'number' ? { pid: parsed.pid, started: parsed.started } : undefined;
  } catch {
    return undefined; // none, or unreadable: nobody to respect
  }
}

function isAlive(owner: Owner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  // The pid may have been reused since: same pid, other start time, other process.
  const started = startTimeOf(owner.pid);
  return owner.started === undefined || started === undefined || started === owner.started;
}

/** The process's start time in clock ticks since boot (Linux /proc); undefined elsewhere. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
