/**
 * Start-up and footprint of the `sluice` command (issue 14): from spawning `node <bin> run
 * <topology>` to the first message handled, and the idle RSS after it, for the demo topology
 * (topologies/hybrid-orders.ts, TypeScript: on a first start, which compiles it, and on later
 * ones, which reuse the compiled module) and a small JavaScript one (bench/startup/
 * echo-topology.js), each against a fresh private nats-server per run; plus the time to the
 * `running` line when the CLI starts its own server (no `--nats`). Medians of `--runs`.
 * Targets: first message <= 300 ms, idle RSS <= 80 MiB.
 *
 * Run: npm run bench:startup (builds dist/ first), or
 *      node --conditions=sluice-source --import tsx bench/startup.bench.ts [--runs 7] [--json]
 *      [--root <package dir>] [--bin <entry, relative to root>] [--against <package dir>]
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
              await measureStart({ bin: side.bin, topology: side[which], cwd, natsUrl: nats?.url, probe, idleMs: o.idleMs, timeoutMs: 30_000, env }),
            );
          } finally {
            await nats?.dispose();
          }
          if (!o.json) process.stderr.write(`${name} (${side.root}): run ${i + 1}/${o.runs} ${JSON.stringify(runs[j]!.at(-1))}\n`);
        }
      }
      for (const [j, side] of sides.entries()) {
        const r = runs[j]!;
        cases.push({
          name,
          root: side.root,
          runs: r,
          firstMessageMs: server ? median(r.map((x) => x.firstMessageMs ?? NaN)) : undefined,
          runningMs: median(r.map((x) => x.runningMs)),
          cpuMs: median(r.map((x) => x.cpuMs)),
          idleRssMiB: median(r.map((x) => x.idleRssMiB)),
        });
      }
    }
    const result = { command: `node ${o.bin} run <topology>`, roots, node: process.versions.node, loadAvg: loadavg()[0], cases };
    process.stdout.write(o.json ? `${JSON.stringify(result, null, 2)}\n` : `${table(cases, o, roots.length > 1)}\n`);
  } finally {
    await rm(sandbox, { recursive: true, force: true });
  }
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

function table(cases: readonly StartupCase[], o: Options, paired: boolean): string {
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
  ];
  return lines.join('\n');
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
    .parse(argv, { from: 'user' })
    .opts<Options>();
}

await main(process.argv.slice(2));
