/**
 * Start-up and footprint of the `sluice` command (issue 14): from spawning `node <bin> run
 * <topology>` to the first message handled, and the idle RSS after it, for the demo topology
 * (topologies/hybrid-orders.ts, TypeScript: on a first start, which compiles it, and on later
 * ones, which reuse the compiled module) and a small JavaScript one (bench/startup/
 * echo-topology.js), each against a fresh private nats-server per run; plus the time to the
 * `running` line when the CLI starts its own server (no `--nats`). Medians of `--runs`.
 * Baselines in the same run: Node alone (bench/startup/idle-node.js: boot, nothing loaded) and
 * the NATS client alone doing what echo-topology.js does (bench/startup/raw-echo.js), and that
 * echo plus what the demo's own libraries do before its first message (zod, croner's time zone,
 * an LMDB environment: bench/startup/raw-demo-floor.js); the report gives echo-topology.js ÷ the
 * echo, the demo ÷ that floor, and what each adds to Node alone.
 * Targets: first message <= 300 ms, idle RSS <= 80 MiB.
 *
 * Run: npm run bench:startup (builds dist/ first), or
 *      node --conditions=sluice-source --import tsx bench/startup.bench.ts [--runs 7] [--json]
 *      [--root <package dir>] [--bin <entry, relative to root>] [--against <package dir>] [--no-extra-ca-certs]
 * `--root`/`--bin` measure another checkout (e.g. an older commit, `--bin bin/sluice.js`).
 * `--against <dir>` measures that checkout too. Every case (baselines included) is started once
 * per round, the order reversed every other round, so both sides of a comparison and each case
 * and its baseline see the same machine load: the way to compare on a busy machine, where the
 * same start varies by a third from minute to minute.
 */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { startNatsServer } from '../src/runtime/nats-server-process.js';
import { measureStart, type StartProbe, type StartRun } from './startup/measure-start.js';
import { samplePayload, type SampleSchema } from './startup/sample-payload.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const TARGET_FIRST_MESSAGE_MS = 300;
const TARGET_IDLE_RSS_MIB = 80;

interface Options {
  runs: number;
  json: boolean;
  root: string;
  bin: string;
  idleMs: number;
  against?: string | undefined;
  /** False with --no-extra-ca-certs. */
  extraCaCerts: boolean;
}

/** One row of the result: a topology started `runs` times one way. */
export interface StartupCase {
  readonly name: string;
  /** The package measured (`--root`, or `--against` for the other side of a comparison). */
  readonly root: string;
  readonly runs: readonly StartRun[];
  readonly firstMessageMs?: number | undefined;
  readonly runningMs: number;
  readonly cpuMs: number;
  readonly idleRssMiB: number;
}

/** One case: what is started, once per round. */
interface Start {
  readonly name: string;
  readonly root: string;
  readonly argv: readonly string[];
  readonly probe: StartProbe | undefined;
  /** Whether it gets a nats-server (`--nats`); else the CLI starts its own. */
  readonly server: boolean;
  /** A fresh TMPDIR: a .ts topology is compiled again. */
  readonly cold: boolean;
  /** Which baseline this is, for the ratios. */
  readonly key?: keyof Baselines;
}

/** One package measured: its CLI entry and the two topologies it runs. */
interface Side {
  readonly root: string;
  readonly bin: string;
  readonly hybrid: string;
  readonly echo: string;
}

async function main(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  const sandbox = await mkdtemp(join(tmpdir(), 'sluice-startup-'));
  try {
    const roots = o.against !== undefined ? [resolve(o.against), resolve(o.root)] : [resolve(o.root)];
    const sides: Side[] = [];
    for (const [i, root] of roots.entries()) {
      // The .js topology runs from a project of its own whose node_modules/sluice is the package.
      const project = join(sandbox, `project-${i}`);
      await mkdir(join(project, 'node_modules'), { recursive: true });
      await symlink(root, join(project, 'node_modules', 'sluice'));
      await writeFile(join(project, 'package.json'), '{ "type": "module" }\n');
      const echo = join(project, 'echo-topology.js');
      await copyFile(join(REPO, 'bench', 'startup', 'echo-topology.js'), echo);
      sides.push({ root, bin: join(root, o.bin), hybrid: join(root, 'topologies', 'hybrid-orders.ts'), echo });
    }
    const unsetEnv = o.extraCaCerts ? [] : ['NODE_EXTRA_CA_CERTS'];
    const echoProbe = probeFor(sides[0]!.bin, sides[0]!.echo);
    const baseline = (name: string, script: string, probe: StartProbe | undefined, key: keyof Baselines): Start => ({
      name,
      root: 'baseline',
      argv: [join(REPO, 'bench', 'startup', script)],
      probe,
      server: true,
      cold: false,
      key,
    });
    const starts: Start[] = [
      // Measured once (not per side): Node alone, the NATS client alone doing what echo-topology.js
      // does, and that client with the demo's libraries doing their part of its start.
      baseline('baseline: node alone (loads nothing)', 'idle-node.js', undefined, 'node'),
      baseline('baseline: raw nats.js echo (no Sluice), --nats', 'raw-echo.js', echoProbe, 'raw'),
      baseline("baseline: raw echo + the demo's zod, croner, lmdb (no Sluice), --nats", 'raw-demo-floor.js', echoProbe, 'floor'),
    ];
    for (const [name, which, server, cold] of [
      // A .ts topology is compiled on its first start and the compiled module reused after (compile-topologies.ts): both.
      ['hybrid-orders.ts, --nats, first start (compiles)', 'hybrid', true, true],
      ['hybrid-orders.ts, --nats', 'hybrid', true, false],
      ['echo-topology.js, --nats', 'echo', true, false],
      ['echo-topology.js, own nats-server', 'echo', false, false],
    ] as const) {
      for (const side of sides) {
        const argv = [side.bin, 'run', side[which], '--log-format', 'json'];
        starts.push({ name, root: side.root, argv, probe: server ? probeFor(side.bin, side[which]) : undefined, server, cold });
      }
    }
    // Rounds: every case started once per round, the order reversed every other round, so that
    // each case and its baseline (and both sides of --against) see the same machine load; ratios
    // are medians of per-round ratios.
    const runs: StartRun[][] = starts.map(() => []);
    for (let i = 0; i < o.runs; i++) {
      const order = starts.map((_, j) => j);
      if (i % 2 === 1) order.reverse();
      for (const j of order) {
        const start = starts[j]!;
        const cwd = await mkdtemp(join(sandbox, 'run-'));
        const nats = start.server ? await startNatsServer() : undefined;
        try {
          const env = start.cold ? { TMPDIR: await mkdtemp(join(sandbox, 'tmp-')) } : undefined;
          const timeoutMs = 30_000;
          runs[j]!.push(await measureStart({ argv: start.argv, cwd, natsUrl: nats?.url, probe: start.probe, idleMs: o.idleMs, timeoutMs, env, unsetEnv }));
        } finally {
          await nats?.dispose();
        }
        if (!o.json) process.stderr.write(`${start.name} (${start.root}): round ${i + 1}/${o.runs} ${JSON.stringify(runs[j]!.at(-1))}\n`);
      }
    }
    const cases = starts.map((start, j) => caseOf(start.name, start.root, runs[j]!, start.probe !== undefined));
    const baselines: Baselines = Object.fromEntries(starts.flatMap((start, j) => (start.key === undefined ? [] : [[start.key, cases[j]!]])));
    const extraCaCerts = o.extraCaCerts ? process.env.NODE_EXTRA_CA_CERTS : undefined;
    const result = { command: `node ${o.bin} run <topology>`, roots, node: process.versions.node, loadAvg: loadavg()[0], extraCaCerts, cases };
    process.stdout.write(o.json ? `${JSON.stringify(result, null, 2)}\n` : `${table(cases, o, roots.length > 1, baselines)}\n`);
  } finally {
    await rm(sandbox, { recursive: true, force: true });
  }
}

/** One row: the medians of a case's runs. */
function caseOf(name: string, root: string, runs: readonly StartRun[], probed: boolean): StartupCase {
  return {
    name,
    root,
    runs,
    firstMessageMs: probed ? median(runs.map((x) => x.firstMessageMs ?? NaN)) : undefined,
    runningMs: median(runs.map((x) => x.runningMs)),
    cpuMs: median(runs.map((x) => x.cpuMs)),
    idleRssMiB: median(runs.map((x) => x.idleRssMiB)),
  };
}

/** The first input of the topology's contract, with a payload made from its schema; outputs and dead letters watched. */
function probeFor(bin: string, topology: string): StartProbe {
  const contract = JSON.parse(
    execFileSync(process.execPath, [bin, 'describe', topology, '--json'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } }),
  ) as {
    subjects: { subject: string; direction: string; payload?: SampleSchema }[];
  };
  const input = contract.subjects.find((s) => s.direction === 'in');
  if (input === undefined) throw new Error(`${topology} has no input to probe`);
  const watch = contract.subjects.filter((s) => s.direction === 'out' || s.direction === 'dead-letter').map((s) => s.subject);
  return { subject: input.subject.replace(/>$/, 'probe').replaceAll('*', 'probe'), payload: samplePayload(input.payload), watch };
}

/** The baseline rows, by what they measure. */
type Baselines = Partial<Record<'node' | 'raw' | 'floor', StartupCase>>;

function table(cases: readonly StartupCase[], o: Options, paired: boolean, baselines: Baselines): string {
  const lines = [
    `node ${o.bin} run <topology> (${o.runs} runs each${paired ? ' in paired rounds' : ''}, medians; node ${process.versions.node}, load ${loadavg()[0]?.toFixed(1)})`,
    '',
    `| case |${paired ? ' package |' : ''} first message handled | \`running\` line | CPU until then | idle RSS |`,
    `|---|${paired ? '---|' : ''}---|---|---|---|`,
    ...cases.map(
      (c) =>
        `| ${c.name} |${paired ? ` ${c.root} |` : ''} ${c.firstMessageMs !== undefined ? `${c.firstMessageMs} ms` : 'n/a'} | ${c.runningMs} ms | ${c.cpuMs} ms | ${c.idleRssMiB} MiB |`,
    ),
    '',
    `targets: first message <= ${TARGET_FIRST_MESSAGE_MS} ms, idle RSS <= ${TARGET_IDLE_RSS_MIB} MiB`,
    ...ratios(cases, baselines),
    o.extraCaCerts && process.env.NODE_EXTRA_CA_CERTS !== undefined
      ? `NODE_EXTRA_CA_CERTS is set (${process.env.NODE_EXTRA_CA_CERTS}): Node 20 reads it at boot, before any module (see 'node alone'); --no-extra-ca-certs measures without it`
      : 'NODE_EXTRA_CA_CERTS is not set for the measured processes',
  ];
  return lines.join('\n');
}

/**
 * echo-topology.js against the hand-written echo, the demo against the floor its libraries set
 * (raw-demo-floor.js), and what each adds to Node alone.
 */
function ratios(cases: readonly StartupCase[], { node, raw, floor }: Baselines): string[] {
  if (node === undefined) return [];
  const perRound = (c: StartupCase, base: StartupCase, f: (r: StartRun) => number | undefined): number =>
    median(c.runs.map((r, i) => (f(r) ?? NaN) / (f(base.runs[i]!) ?? NaN)));
  const against = (c: StartupCase, base: StartupCase | undefined, what: string, baseName: string): string[] =>
    base?.firstMessageMs === undefined || c.firstMessageMs === undefined
      ? []
      : [
          `${what} (${c.root}) ÷ ${baseName}, median of per-round ratios: first message ${perRound(c, base, (r) => r.firstMessageMs).toFixed(2)}, ` +
            `idle RSS ${perRound(c, base, (r) => r.idleRssMiB).toFixed(2)}; above node alone: ${Math.round(c.firstMessageMs - node.runningMs)} ms and ` +
            `${(c.idleRssMiB - node.idleRssMiB).toFixed(1)} MiB (${baseName}: ${Math.round(base.firstMessageMs - node.runningMs)} ms, ${(base.idleRssMiB - node.idleRssMiB).toFixed(1)} MiB)`,
        ];
  return [
    ...cases.filter((c) => c.name === 'echo-topology.js, --nats').flatMap((c) => against(c, raw, 'echo-topology.js', 'raw nats.js echo')),
    ...cases.filter((c) => c.name === 'hybrid-orders.ts, --nats').flatMap((c) => against(c, floor, 'hybrid-orders.ts', 'the demo floor')),
  ];
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : Math.round(((s[m - 1]! + s[m]!) / 2) * 10) / 10;
}

function parseArgs(argv: string[]): Options {
  const positive = (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got '${v}'`);
    return n;
  };
  return new Command('npm run bench:startup --')
    .description('Start-up time and idle RSS of `sluice run`.')
    .option('--runs <n>', 'starts per case', positive, 5)
    .option('--idle-ms <ms>', 'idle time before RSS is read', positive, 2_000)
    .option('--json', 'print one JSON document', false)
    .option('--root <dir>', 'package directory measured', REPO)
    .option('--bin <file>', 'CLI entry, relative to --root (and --against)', 'dist/src/cli/bin.js')
    .option('--against <dir>', 'also measure this package, in paired rounds with --root (before/after)')
    .option('--no-extra-ca-certs', 'remove NODE_EXTRA_CA_CERTS from the measured processes (Node 20 reads the file at boot)')
    .parse(argv, { from: 'user' })
    .opts<Options>();
}

await main(process.argv.slice(2));
