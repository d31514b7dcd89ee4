import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, headers } from '@nats-io/transport-node';

/** A message that a topology handles: where it goes and what it says. */
export interface StartProbe {
  readonly subject: string;
  readonly payload: unknown;
  /** Any message on one of these (outputs, dead letters) means the probe was handled. */
  readonly watch: readonly string[];
}

/** One `sluice run` start, from spawning the process. */
export interface StartRun {
  /** Until the `sluice: running` log line. */
  readonly runningMs: number;
  /** Until the probe's first output or dead letter was seen (with a probe only). */
  readonly firstMessageMs?: number | undefined;
  /**
   * CPU time (user + system) the process had used when the probe was handled (else at the
   * `running` line), ms in 10 ms ticks: steadier than wall time on a busy machine.
   */
  readonly cpuMs: number;
  /** Resident set size after `idleMs` with nothing to do, MiB. */
  readonly idleRssMiB: number;
}

/** What {@link measureStart} runs. */
export interface StartOptions {
  /**
   * What this Node binary runs, `--nats <url>` added: the CLI (`[<bin>, 'run', <topology>,
   * '--log-format', 'json']`) or a baseline script that writes a line containing `sluice: running`
   * once it is up (bench/startup/raw-echo.js).
   */
  readonly argv: readonly string[];
  /** Working directory (the state store goes under it): a fresh one per run. */
  readonly cwd: string;
  /** Server the topology connects to (`--nats`); without one the CLI starts its own (no probe then). */
  readonly natsUrl?: string | undefined;
  readonly probe?: StartProbe | undefined;
  readonly idleMs: number;
  readonly timeoutMs: number;
  /** Variables set for the CLI on top of this process's (e.g. TMPDIR, where compiled .ts topologies are kept). */
  readonly env?: Readonly<Record<string, string>> | undefined;
  /** Variables removed from the CLI's environment (e.g. NODE_EXTRA_CA_CERTS, which Node 20 reads at boot). */
  readonly unsetEnv?: readonly string[] | undefined;
}

const PROBE_EVERY_MS = 5;
/** USER_HZ: 100 on Linux (getconf CLK_TCK). */
const CLOCK_TICKS = 100;

/**
 * Spawns `sluice run` and times it: to the `running` log line and, with a probe and a server,
 * to the first message handled. The probe is re-published every 5 ms under one `Nats-Msg-Id`
 * until something comes out, because an input stream or subscription does not exist until the
 * topology made it (a stream drops the repeats as duplicates). Then the process sits idle for
 * `idleMs`, its RSS is read from /proc, and it is stopped with SIGTERM.
 * @throws Error when the process exits or `timeoutMs` passes before it is up.
 */
export async function measureStart(o: StartOptions): Promise<StartRun> {
  const nc = o.natsUrl !== undefined && o.probe !== undefined ? await connect({ servers: o.natsUrl }) : undefined;
  let handledAt: number | undefined;
  let handled!: () => void;
  const handledP = new Promise<void>((r) => (handled = r));
  for (const subject of o.probe?.watch ?? []) {
    nc?.subscribe(subject, { callback: () => ((handledAt ??= performance.now()), handled()) });
  }
  await nc?.flush();
  const env = { ...process.env, ...o.env };
  delete env.NODE_OPTIONS; // the sources condition of the test run must not leak into the measured CLI
  for (const name of o.unsetEnv ?? []) delete env[name];
  const args = [...o.argv, ...(o.natsUrl !== undefined ? ['--nats', o.natsUrl] : [])];
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { cwd: o.cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let runningAt: number | undefined;
  let running!: () => void;
  const runningP = new Promise<void>((r) => (running = r));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    if (runningAt === undefined && stderr.includes('sluice: running')) {
      runningAt = performance.now();
      running();
    }
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`sluice run exited (${code}) before it was up:\n${stderr.slice(-2000)}`))),
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`not up after ${o.timeoutMs} ms:\n${stderr.slice(-2000)}`)), o.timeoutMs)),
  );
  let probing: NodeJS.Timeout | undefined;
  try {
    if (nc !== undefined && o.probe !== undefined) {
      const h = headers();
      h.set('Content-Type', 'application/json');
      h.set('Nats-Msg-Id', `startup-probe-${t0}`);
      const data = new TextEncoder().encode(JSON.stringify(o.probe.payload));
      const probe = o.probe;
      probing = setInterval(() => nc.publish(probe.subject, data, { headers: h }), PROBE_EVERY_MS);
      await Promise.race([handledP, exited, timeout]);
      clearInterval(probing);
    }
    await Promise.race([runningP, exited, timeout]);
    const cpuMs = cpuMsOf(child.pid!);
    await new Promise((r) => setTimeout(r, o.idleMs));
    const idleRssMiB = rssMiB(child.pid!);
    return {
      runningMs: Math.round(runningAt! - t0),
      ...(handledAt !== undefined ? { firstMessageMs: Math.round(handledAt - t0) } : {}),
      cpuMs,
      idleRssMiB,
    };
  } finally {
    clearInterval(probing);
    clearTimeout(timer);
    exited.catch(() => undefined);
    if (child.exitCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(kill);
    }
    await nc?.close();
  }
}

/** utime + stime of /proc/<pid>/stat (fields 14 and 15, after the parenthesised command name). */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /, '')
    .split(' ');
  return (Number(fields[11]) + Number(fields[12])) * (1000 / CLOCK_TICKS);
}

function rssMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  return Math.round((kb / 1024) * 10) / 10;
}
