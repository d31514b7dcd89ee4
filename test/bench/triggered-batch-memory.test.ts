import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTriggeredBatchMemory, TRIGGERED_BATCH_BENCHES } from '../../bench/triggered-batch-memory.js';
import { useTempDir } from '../helpers/temp-dir.js';

// The runner of the triggered batch's memory target: it runs the first script present and reads
// the peak RSS from the last JSON line, in either shape; anything else is "not measured", never a
// failed bench run. Stand-in scripts print fixed figures (the real ones take minutes).
describe('runTriggeredBatchMemory', () => {
  const dir = useTempDir('tbm');
  const script = async (name: string, body: string) => {
    const path = join(dir(), name);
    await writeFile(path, body);
    return path;
  };

  it('reads peakRssMiB from a script printing one JSON line, and passes it the event count', async () => {
    const path = await script('peak.mjs', 'console.log("warming up"); console.log(JSON.stringify({ peakRssMiB: 120.5, events: Number(process.argv[3]) }));');
    const r = await runTriggeredBatchMemory(1000, [
      { script: join(dir(), 'absent.mjs'), args: () => [] },
      { script: path, args: (n) => ['--events', String(n), '--json'] },
    ]);
    expect(r).toMatchObject({ events: 1000, peakRssMiB: 120.5 });
    expect(r.command).toContain('peak.mjs --events 1000 --json');
    expect(r.error).toBeUndefined();
  });

  it('reads the period-batch-flush shape: the larger RSS of the two phases, and the anonymous RSS', async () => {
    const path = await script('phases.mjs', 'console.log(JSON.stringify({ accumulate: { rss: 140, rssAnon: 90 }, flush: { rss: 160, rssAnon: 80 } }));');
    expect(await runTriggeredBatchMemory(10, [{ script: path, args: () => [] }])).toMatchObject({ peakRssMiB: 160, peakRssAnonMiB: 90 });
  });

  it('reports not measured, with the reason, when no script is here, the script fails, or prints no figure', async () => {
    const absent = await runTriggeredBatchMemory(10, [{ script: join(dir(), 'absent.mjs'), args: () => [] }]);
    expect(absent).toMatchObject({ peakRssMiB: null });
    expect(absent.error).toContain('not here');
    const failing = await runTriggeredBatchMemory(10, [{ script: await script('fail.mjs', 'process.exit(3);'), args: () => [] }]);
    expect(failing.peakRssMiB).toBeNull();
    expect(failing.error).toMatch(/fail\.mjs/);
    const silent = await runTriggeredBatchMemory(10, [{ script: await script('none.mjs', 'console.log(JSON.stringify({ ok: true }));'), args: () => [] }]);
    expect(silent).toMatchObject({ peakRssMiB: null, error: expect.stringContaining('no peak RSS') as unknown });
  });

  it('bundles a TypeScript script with the modules it imports and runs it as plain JavaScript (no tsx loader in the measured process)', async () => {
    await script('tbm-figure.ts', 'export const peak: number = 99.5;\n');
    const path = await script('tbm-compiled.ts', "import { peak } from './tbm-figure.js';\nconsole.log(JSON.stringify({ peakRssMiB: peak}));\n");
    const r = await runTriggeredBatchMemory(5, [{ script: path, args: () => [] }]);
    expect(r).toMatchObject({ events: 5, peakRssMiB: 99.5 });
    expect(r.command).toMatch(/^node bench\/\.compiled\/tbm-compiled\.mjs .*bundled by esbuild/);
    expect(r.error).toBeUndefined();
  });

  it('prefers the triggered batch bench of the mode when it is present, else the period batch', () => {
    expect(TRIGGERED_BATCH_BENCHES.map((b) => b.script)).toEqual(['bench/triggered-batch-rss.bench.ts', 'bench/period-batch-flush.bench.ts']);
    expect(TRIGGERED_BATCH_BENCHES[0]!.args(1_000_000)).toEqual(['--events', '1000000', '--buffer', 'file', '--json']);
  });
});
