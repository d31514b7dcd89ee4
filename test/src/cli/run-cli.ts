import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root, where `npm start` runs. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliRun {
  /** Resolves when stdout or stderr has printed a line matching `pattern` (rejects if the process exits first). */
  waitFor(pattern: RegExp): Promise<void>;
  kill(signal: NodeJS.Signals): void;
  /** What stdout and stderr printed so far. */
  output(): { stdout: string; stderr: string };
  readonly result: Promise<CliResult>;
}

/**
 * The environment a child gets: this one without anything that would pick a broker or a binary
 * for it, so each test says exactly which connection it wants.
 */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('NATS_') || key === 'SLUICE_NATS_SERVER_BIN') delete env[key];
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Spawns `command args` in the repository root and collects its output. */
export function spawnCli(command: string, args: readonly string[], env: NodeJS.ProcessEnv): CliRun {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ pattern: RegExp; resolve: () => void; reject: (e: Error) => void }> = [];
  const check = () => {
    for (const w of [...waiters]) if (w.pattern.test(stdout) || w.pattern.test(stderr)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
  };
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    check();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    check();
  });
  const result = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      for (const w of waiters.splice(0)) w.reject(new Error(`exited (${code ?? signal}) before printing ${w.pattern}:\n${stdout}\n${stderr}`));
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    waitFor: (pattern) =>
      pattern.test(stdout) || pattern.test(stderr) ? Promise.resolve() : new Promise<void>((resolve, reject) => waiters.push({ pattern, resolve, reject })),
    kill: (signal) => child.kill(signal),
    output: () => ({ stdout, stderr }),
    result,
  };
}

/** `node bin/sluice.js ...args` with this Node binary. */
export function sluice(args: readonly string[], env: NodeJS.ProcessEnv = cleanEnv()): CliRun {
  return spawnCli(process.execPath, ['bin/sluice.js', ...args], env);
}

/**
 * The messages of a child's JSON log (its stderr when not on a terminal), one per line, so tests
 * can match the lines a person sees; lines that are not JSON are kept as they are.
 */
export function logMessages(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      try {
        const entry = JSON.parse(line) as { msg?: unknown };
        return typeof entry.msg === 'string' ? entry.msg : line;
      } catch {
        return line;
      }
    })
    .join('\n');
}
