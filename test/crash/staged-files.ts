import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StagedFileManifest } from '../../operators/index.js';
import type { CrashOutput } from './crash-tally.js';

/**
 * Reads what a `fileSink` published in `dir` as crash outputs (one per NDJSON line, target
 * 'out'), and lists what breaks the staged-file promise: a temporary file left behind, a data
 * file without a manifest (or named by none), a manifest whose file is missing or whose record
 * count, byte count or SHA-256 does not match the file, a line that is not whole JSON.
 */
export function readStagedFiles(
  dir: string,
  options: { idOf?: ((data: Record<string, unknown>) => unknown) | undefined; to?: string | undefined } = {},
): { outputs: CrashOutput[]; problems: string[] } {
  const idOf = options.idOf ?? ((data) => data['id']);
  const outputs: CrashOutput[] = [];
  const problems: string[] = [];
  const names = existsSync(dir) ? readdirSync(dir) : [];
  const named = new Set<string>();
  for (const m of names.filter((f) => f.endsWith('.manifest.json') && !f.startsWith('.'))) {
    const manifest = JSON.parse(readFileSync(join(dir, m), 'utf8')) as StagedFileManifest;
    for (const entry of manifest.files) {
      named.add(entry.file);
      if (!names.includes(entry.file)) {
        problems.push(`manifest ${m} names ${entry.file}, which is not there`);
        continue;
      }
      const bytes = readFileSync(join(dir, entry.file));
      const lines = bytes.toString('utf8').split('\n');
      if (lines.pop() !== '') problems.push(`${entry.file} does not end with a newline (half-written?)`);
      const sha = createHash('sha256').update(bytes).digest('hex');
      if (sha !== entry.sha256 || bytes.length !== entry.bytes || lines.length !== entry.records) {
        problems.push(
          `${entry.file}: manifest says ${entry.records} records, ${entry.bytes} bytes, sha256 ${entry.sha256}; file has ${lines.length}, ${bytes.length}, ${sha}`,
        );
      }
      for (const line of lines) {
        try {
          const data = JSON.parse(line) as Record<string, unknown>;
          const id = idOf(data);
          outputs.push({
            id: typeof id === 'string' ? id : undefined,
            to: options.to ?? 'out',
            data: { ...data, file: entry.file, partition: entry.partition },
          });
        } catch {
          problems.push(`${entry.file}: a line is not whole JSON: ${line.slice(0, 60)}`);
        }
      }
    }
  }
  for (const f of names) {
    if (f.startsWith('.')) problems.push(`temporary file left behind: ${f}`);
    else if (!f.endsWith('.manifest.json') && !named.has(f)) problems.push(`${f} is published without a manifest`);
  }
  return { outputs, problems };
}
