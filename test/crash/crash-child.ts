import { spawn, type ChildProcess } from 'node:child_process';

/** A crash-test child program (run through tsx) whose stdout lines the test follows. */
export interface CrashChild {
  readonly proc: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once `cond()` holds after a stdout line was read, or the child exits. */
  when(cond: () => boolean): Promise<void>;
  /** The last 8 KB of the child's stderr, for failure messages. */
  stderr(): string;
}

/**
 * Spawns `node --import tsx <file> <JSON cfg>` and hands each complete stdout line to `onLine`
 * (the test keeps its own view of the child's progress), so a test can SIGKILL the child at a
 * chosen point.
 */
export function spawnCrashChild(file: string, cfg: object, onLine: (line: string) => void): CrashChild {
  const proc = spawn(process.execPath, ['--import', 'tsx', file, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let buf = '';
  const waiters: { cond: () => boolean; resolve: () => void }[] = [];
  const settle = (): void => {
    for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]!.cond()) waiters.splice(i, 1)[0]!.resolve();
  };
  proc.stdout.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const line of lines) onLine(line);
    settle();
  });
  proc.stderr.on('data', (chunk: Buffer) => {
    err = (err + chunk.toString()).slice(-8000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => {
      for (const w of waiters.splice(0)) w.resolve();
      resolve({ code, signal });
    }),
  );
  return {
    proc,
    exited,
    when: (cond) =>
      new Promise<void>((resolve) => {
        waiters.push({ cond, resolve });
        settle();
      }),
    stderr: () => err,
  };
}

/** A small seeded PRNG, so kill points are reproducible from the printed seed (the demo generator's). */
export { mulberry32 } from '../../src/testing/mulberry32.js';

/** The seed of a crash test's random kill points: `SLUICE_CRASH_SEED` to reproduce a run, else fresh. */
export function crashSeed(): number {
  return Number(process.env.SLUICE_CRASH_SEED ?? Date.now() % 1_000_000);
}
