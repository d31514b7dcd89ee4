import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Writes a file into `dir` the way well-behaved producers do: to a temp name, then renamed in. */
export async function dropFile(dir: string, name: string, content: string): Promise<void> {
  const tmp = join(dir, `.${name}.partial`);
  await writeFile(tmp, content);
  await rename(tmp, join(dir, name));
}
