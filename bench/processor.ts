/**
 * Child-process entry that runs ONE mode, so its CPU time and RSS are the processor's alone:
 * `process.cpuUsage()` counts every thread of this process (GC, libuv) and nothing of the driver
 * or nats-server. Driven over IPC by processor-client.ts; not meant to be started by hand.
 */
import type { ProcessorMark, ProcessorReply, ProcessorRequest } from './processor-client.js';
import type { ModeFactory, RunningMode } from './modes/mode.js';
import type { OrderTarget } from './workload.js';

let running: RunningMode | undefined;

function mark(): ProcessorMark {
  const cpu = process.cpuUsage();
  const counters = running?.counters() ?? { natsMsgs: 0, lmdbCommits: 0 };
  return {
    cpuUs: cpu.user + cpu.system,
    natsMsgs: counters.natsMsgs,
    lmdbCommits: counters.lmdbCommits,
    rssBytes: process.memoryUsage.rss(),
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

async function handle(req: ProcessorRequest): Promise<ProcessorReply> {
  switch (req.op) {
    case 'start': {
      const mod = (await import(`./modes/${req.module}.js`)) as { start: ModeFactory };
      running = await mod.start({
        url: req.url,
        inSubject: req.inSubject,
        outSubject: (target: OrderTarget) => `${req.outPrefix}.${target}`,
        deadLetterSubject: req.deadLetterSubject,
        workDir: req.workDir,
        params: req.params,
      });
      return { id: req.id, ok: true, mark: mark() };
    }
    case 'mark':
      return { id: req.id, ok: true, mark: mark() };
    case 'stop': {
      await running?.stop();
      const last = mark();
      running = undefined;
      return { id: req.id, ok: true, mark: last };
    }
  }
}

process.on('message', (req: ProcessorRequest) => {
  handle(req).then(
    (reply) => {
      process.send?.(reply);
      if (req.op === 'stop') process.disconnect();
    },
    (err: unknown) => {
      const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      process.send?.({ id: req.id, ok: false, error } satisfies ProcessorReply);
    },
  );
});
process.on('disconnect', () => process.exit(0));
