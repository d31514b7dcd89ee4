import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Where `sluice bench` looks for the benchmark harness. */
export const BENCH_ENTRY = fileURLToPath(new URL('../../bench/main.ts', import.meta.url));

/**
 * `sluice bench [args...]`: hands over to the harness module's `main(args)`, which returns an
 * exit code (nothing means 0). A checkout without the harness gets a message, not a stack trace.
 */
export async function benchCommand(args: readonly string[], entry: string = BENCH_ENTRY): Promise<number> {
  if (!existsSync(entry)) {
    process.stderr.write(`sluice bench: the benchmark harness is not here (${entry} is missing)\n`);
    return 1;
  }
  const mod = (await import(entry)) as { main?: (args: string[]) => Promise<number | void> | number | void };
  if (typeof mod.main !== 'function') {
    process.stderr.write(`sluice bench: ${entry} does not export main(args)\n`);
    return 1;
  }
  return (await mod.main([...args])) ?? 0;
}
