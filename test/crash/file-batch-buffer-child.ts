/**
 * Crash-test child: appends numbered values to a `fileBatchBuffer` in commits of seeded random
 * sizes (up to 2000 values of up to 600 bytes: multi-record writes), sealing now and then, until
 * killed. Continues from what the buffer holds. Prints `w <total>` before each commit (the total
 * if it lands) and `c <total>` after it returned; stdout to a pipe is synchronous on Linux, so
 * the parent sees each line before the next step starts.
 *
 * Usage: node --import tsx test/crash/file-batch-buffer-child.ts '{"dir":"...","seed":1}'
 */
import { fileBatchBuffer } from '../../src/state/file-batch-buffer.js';
import { mulberry32 } from '../../src/testing/mulberry32.js';

interface Value {
  seq: number;
  pad: Uint8Array;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as { dir: string; seed: number };
const rnd = mulberry32(cfg.seed);
const buffer = fileBatchBuffer<Value>({ dir: cfg.dir });
let total = buffer.unreleased().reduce((n, s) => n + s.count, 0) + buffer.count();
process.stdout.write(`ready ${total}\n`);

const step = (): void => {
  if (rnd() < 0.1) buffer.seal();
  const size = 1 + Math.floor(rnd() * 2000);
  const values = Array.from({ length: size }, (_, i) => ({ seq: total + i, pad: new Uint8Array((total + i) % 600).fill((total + i) % 251) }));
  process.stdout.write(`w ${total + size}\n`);
  buffer.appendAll(values);
  total += size;
  process.stdout.write(`c ${total}\n`);
  setImmediate(step);
};
step();
