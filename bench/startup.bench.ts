/**
 * Start-up and footprint of the `sluice` command (issue 14): from spawning `node <bin> run
 * <topology>` to the first message handled, and the idle RSS after it, for the demo topology
 * (topologies/hybrid-orders.ts, TypeScript: on a first start, which compiles it, and on later
 * ones, which reuse the compiled module) and a small JavaScript one (bench/startup/
 * echo-topology.js), each against a fresh private nats-server per run; plus the time to the
 * `running` line when the CLI starts its own server (no `--nats`). Medians of `--runs`.
 * Baselines in the same run: Node alone (bench/startup/idle-node.js: boot, nothing loaded) and
 * the NATS client alone doing what echo-topology.js does (bench/startup/raw-echo.js); the report
 * gives echo-topology.js ÷ that echo, and what each adds to Node alone.
 * Targets: first message <= 300 ms, idle RSS <= 80 MiB.
 *
 * Run: npm run bench:startup (builds dist/ first), or
 *      node --conditions=sluice-source --import tsx bench/startup.bench.ts [--runs 7] [--json]
 *      [--root <package dir>] [--bin <entry, relative to root>] [--against <package dir>] [--no-extra-ca-certs]
 * `--root`/`--bin` measure another checkout (e.g. an older commit, `--bin bin/sluice.js`).
 * `--against <dir>` measures that checkout too, in paired rounds (its start, then this one's,
 * alternating which goes first), so both sides see the same machine load: the way to compare
 * before and after on a busy machine.
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
    const cases: StartupCase[] = [];
    const unsetEnv = o.extraCaCerts ? [] : ['NODE_EXTRA_CA_CERTS'];
    // The baselines, measured once (not per side): Node alone, and the NATS client alone doing what echo-topology.js does.
    const echoProbe = probeFor(sides[0]!.bin, sides[0]!.echo);
    const baselines: Partial<Record<'node' | 'raw', StartupCase>> = {};
    for (const [key, name, script, probe] of [
      ['node', 'baseline: node alone (loads nothing)', 'idle-node.js', undefined],
      ['raw', 'baseline: raw nats.js echo (no Sluice), --nats', 'raw-echo.js', echoProbe],
    ] as const) {
      const runs: StartRun[] = [];
      for (let i = 0; i < o.runs; i++) {
        const nats = await startNatsServer();
        try {
          const argv = [join(REPO, 'bench', 'startup', script)];
          runs.push(await measureStart({ argv, cwd: sandbox, natsUrl: nats.url, probe, idleMs: o.idleMs, timeoutMs: 30_000, unsetEnv }));
        } finally {
          await nats.dispose();
        }
        if (!o.json) process.stderr.write(`${name}: run ${i + 1}/${o.runs} ${JSON.stringify(runs.at(-1))}\n`);
      }
      cases.push((baselines[key] = caseOf(name, 'baseline', runs, probe !== undefined)));
    }
    for (const [name, which, server, cold] of [
      // A .ts topology is compiled on its first start and the compiled module reused after (compile-topologies.ts): both.
      ['hybrid-orders.ts, --nats, first start (compiles)', 'hybrid', true, true],
      ['hybrid-orders.ts, --nats', 'hybrid', true, false],
      ['echo-topology.js, --nats', 'echo', true, false],
      ['echo-topology.js, own nats-server', 'echo', false, false],
    ] as const) {
      const probes = sides.map((side) => (server ? probeFor(side.bin, side[which]) : undefined));
      const runs: StartRun[][] = sides.map(() => []);
      for (let i = 0; i < o.runs; i++) {
        // Paired rounds: one start of each side, the first side alternating, under the same load.
        const order = sides.map((_, j) => j);
        if (i % 2 === 1) order.reverse();
        for (const j of order) {
          const side = sides[j]!;
          const cwd = await mkdtemp(join(sandbox, 'run-'));
          const nats = server ? await startNatsServer() : undefined;
          try {
            const probe = probes[j];
            const env = cold ? { TMPDIR: await mkdtemp(join(sandbox, 'tmp-')) } : undefined;
            runs[j]!.push(
              await measureStart({
                argv: [side.bin, 'run', side[which], '--log-format', 'json'],
                cwd,
                natsUrl: nats?.url,
                probe,
                idleMs: o.idleMs,
                timeoutMs: 30_000,
                env,
                unsetEnv,
              }),
            );
          } finally {
            await nats?.dispose();
          }
          if (!o.json) process.stderr.write(`${name} (${side.root}): run ${i + 1}/${o.runs} ${JSON.stringify(runs[j]!.at(-1))}\n`);
        }
      }
      for (const [j, side] of sides.entries()) cases.push(caseOf(name, side.root, runs[j]!, server));
    }
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

function table(cases: readonly StartupCase[], o: Options, paired: boolean, baselines: Partial<Record<'node' | 'raw', StartupCase>>): string {
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

/** echo-topology.js against the hand-written echo, and what each adds to Node alone. */
function ratios(cases: readonly StartupCase[], { node, raw }: Partial<Record<'node' | 'raw', StartupCase>>): string[] {
  if (node === undefined || raw?.firstMessageMs === undefined) return [];
  return cases
    .filter((c) => c.name === 'echo-topology.js, --nats' && c.firstMessageMs !== undefined)
    .map(
      (c) =>
        `echo-topology.js (${c.root}) ÷ raw nats.js echo: first message ${(c.firstMessageMs! / raw.firstMessageMs!).toFixed(2)}, idle RSS ${(c.idleRssMiB / raw.idleRssMiB).toFixed(2)}; ` +
        `above node alone: ${Math.round(c.firstMessageMs! - node.runningMs)} ms and ${(c.idleRssMiB - node.idleRssMiB).toFixed(1)} MiB (raw echo: ${Math.round(raw.firstMessageMs! - node.runningMs)} ms, ${(raw.idleRssMiB - node.idleRssMiB).toFixed(1)} MiB)`,
    );
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
