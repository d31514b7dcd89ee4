import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Cumulative figures of the processor child at one instant. */
export interface ProcessorMark {
  /** User + system CPU of the whole child process (all threads), µs. */
  cpuUs: number;
  natsMsgs: number;
  lmdbCommits: number;
  rssBytes: number;
  /** Peak resident set size since the child started, bytes. */
  maxRssBytes: number;
}

export type ProcessorRequest =
  | {
      id: number;
      op: 'start';
      module: string;
      params: Readonly<Record<string, number>>;
      url: string;
      inSubject: string;
      outPrefix: string;
      deadLetterSubject: string;
      workDir: string;
    }
  | { id: number; op: 'mark' }
  | { id: number; op: 'stop' };

export type ProcessorReply = { id: number; ok: true; mark: ProcessorMark } | { id: number; ok: false; error: string };

type StartFields = Omit<Extract<ProcessorRequest, { op: 'start' }>, 'id' | 'op'>;

/** The parent's handle on a processor child. */
export interface ProcessorHandle {
  readonly pid: number;
  mark(): Promise<ProcessorMark>;
  /** Stops the mode (it flushes and closes) and waits for the child to exit; returns the last mark. */
  stop(): Promise<ProcessorMark>;
  /** Kills the child without waiting for anything (cleanup after a failure). */
  kill(): void;
}

/**
 * Forks bench/processor.ts under tsx and starts the mode in it. Rejects when the mode fails to
 * start (for example when a Sluice operator it needs has not landed), with the child's error.
 */
export async function startProcessor(fields: StartFields): Promise<ProcessorHandle> {
  const entry = fileURLToPath(new URL('./processor.ts', import.meta.url));
  // SLUICE_BENCH_CPU_PROF=<dir> writes a V8 CPU profile of each processor (node --cpu-prof).
  const profDir = process.env['SLUICE_BENCH_CPU_PROF'];
  const child = fork(entry, [], {
    execArgv: ['--import', import.meta.resolve('tsx'), ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (m: ProcessorMark) => void; reject: (e: Error) => void }>();
  const failAll = (err: Error) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  child.on('message', (reply: ProcessorReply) => {
    const p = pending.get(reply.id);
    if (p === undefined) return;
    pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.mark);
    else p.reject(new Error(`processor (${fields.module}): ${reply.error}`));
  });
  child.on('exit', (code, signal) => failAll(new Error(`processor (${fields.module}) exited (code ${code}, signal ${signal})`)));
  child.on('error', (err) => failAll(err));

  const call = (req: Omit<ProcessorRequest, 'id'>): Promise<ProcessorMark> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ ...req, id });
    });

  try {
    await call({ op: 'start', ...fields });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    pid: child.pid ?? -1,
    mark: () => call({ op: 'mark' }),
    stop: async () => {
      const exited = waitExit(child);
      const last = await call({ op: 'stop' });
      await exited;
      return last;
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
