import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TransportError } from '../errors.js';

/** Options for {@link startNatsServer}. */
export interface NatsServerOptions {
  /** Binary to run. Default: `nats-server` from PATH. */
  binary?: string | undefined;
  /** Directory for config, ports file and JetStream store. Default: a fresh temp dir. */
  dir?: string | undefined;
  /** Port; default: a free one chosen by the server (`port: -1`). */
  port?: number | undefined;
  /** Enable JetStream. Default true. */
  jetstream?: boolean | undefined;
  /** Extra server config merged into the JSON config (e.g. `authorization`). */
  config?: Record<string, unknown> | undefined;
  /** How long to wait for the server to accept connections, ms. Default 10000. */
  startTimeoutMs?: number | undefined;
}

/** A running nats-server child process. */
export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  /** Holds the config file and the JetStream store (`<dir>/jetstream`). */
  readonly dir: string;
  readonly pid: number;
  /** Graceful stop (SIGTERM, then SIGKILL after 5 s). Keeps the store. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would. Keeps the store. */
  kill(): Promise<void>;
  /** Starts again on the same port and store (after stop or kill). */
  restart(): Promise<void>;
  /** Stops and, when the directory was a temp dir made here, deletes it. */
  dispose(): Promise<void>;
}

/** Thrown when no nats-server binary can be found on PATH. */
export class NatsServerNotFoundError extends Error {
  override readonly name = 'NatsServerNotFoundError';
  constructor(
    readonly binary: string,
    options?: ErrorOptions,
  ) {
    super(`nats-server not found: '${binary}' is not on PATH — install it (apt-get install nats-server)`, options);
  }
}

/**
 * Starts a private nats-server on 127.0.0.1 (a free port unless one is given) with JetStream in
 * its own store directory, and waits until it accepts TCP connections. Used by the embedded
 * default of `sluice run`, the benchmarks and the test helper.
 *
 * @throws NatsServerNotFoundError when the binary is missing; TransportError when it exits or
 * does not accept connections in time.
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const binary = options.binary ?? 'nats-server';
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'sluice-nats-')));
  await mkdir(dir, { recursive: true });
  const timeoutMs = options.startTimeoutMs ?? 10_000;
  let port = options.port ?? -1;
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const config: Record<string, unknown> = {
      host: '127.0.0.1',
      port,
      ports_file_dir: dir,
      ...(options.jetstream === false ? {} : { jetstream: { store_dir: join(dir, 'jetstream') } }),
      ...options.config,
    };
    const configFile = join(dir, 'nats-server.json');
    await writeFile(configFile, JSON.stringify(config));
    await removePortsFiles(dir);
    const proc = spawn(binary, ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let stderr = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const exited = new Promise<never>((_, reject) => {
      proc.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? new NatsServerNotFoundError(binary, { cause: err }) : err));
      proc.once('exit', (code, signal) =>
        reject(new TransportError('nats-server', 'start', `exited (code ${code}, signal ${signal}) before accepting connections: ${stderr.trim()}`)),
      );
    });
    exited.catch(() => undefined);
    const ready = (async () => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const found = port > 0 ? port : await readPortsFile(dir, proc.pid ?? 0);
        if (found !== undefined && (await canConnect(found))) return found;
        await sleep(25);
      }
      throw new TransportError('nats-server', 'start', `not accepting connections after ${timeoutMs} ms: ${stderr.trim()}`);
    })();
    try {
      port = await Promise.race([ready, exited]);
    } catch (err) {
      proc.kill('SIGKILL');
      throw err;
    }
  };

  const waitExit = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const done = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    if (signal !== 'SIGKILL') {
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await done;
      clearTimeout(timer);
    } else {
      await done;
    }
  };

  await launch();
  const handle: NatsServerHandle = {
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    dir,
    get pid() {
      return child?.pid ?? -1;
    },
    stop: () => waitExit('SIGTERM'),
    kill: () => waitExit('SIGKILL'),
    restart: async () => {
      await waitExit('SIGTERM');
      await launch();
    },
    dispose: async () => {
      await waitExit('SIGTERM');
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

async function removePortsFiles(dir: string): Promise<void> {
  for (const f of await readdir(dir)) if (f.endsWith('.ports')) await rm(join(dir, f), { force: true });
}

async function readPortsFile(dir: string, pid: number): Promise<number | undefined> {
  try {
    const text = await readFile(join(dir, `nats-server_${pid}.ports`), 'utf8');
    const parsed = JSON.parse(text) as { nats?: string[] };
    const url = parsed.nats?.[0];
    const port = url !== undefined ? Number(new URL(url).port) : NaN;
    return Number.isFinite(port) && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
