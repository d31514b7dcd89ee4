import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { until } from '../helpers/until.js';

const PYTHON = '/usr/bin/python3';
const CONSUMER = join(import.meta.dirname, 'sluice_consumer.py');

/**
 * Starts test/conformance/sluice_consumer.py (Debian's python3) against `url` with the contract in
 * `contractFile`, and resolves once it has subscribed.
 */
export async function startConsumer(contractFile: string, url: string, options: { strictIntegers: boolean }) {
  const { hostname, port } = new URL(url);
  const args = [CONSUMER, '--server', `${hostname}:${port}`, '--contract', contractFile, ...(options.strictIntegers ? ['--strict-integers'] : [])];
  const child = spawn(PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await until(() => lines.includes('READY') || child.exitCode !== null, { what: 'the Python consumer to subscribe', timeoutMs: 10_000 });
  if (!lines.includes('READY')) throw new Error(`the Python consumer did not start: ${stderr}`);
  return {
    /** Tells it to stop reading core subjects, read the streams, and report. */
    async finish(): Promise<{ code: number | null; summary: { received: Record<string, number>; invalid: unknown[] }; stderr: string }> {
      child.stdin.end('\n');
      const code = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => (child.kill('SIGKILL'), r(null)), 20_000))]);
      const last = lines.filter((l) => l.startsWith('{')).at(-1);
      return { code, summary: last !== undefined ? JSON.parse(last) : { received: {}, invalid: [`no summary; stderr: ${stderr}`] }, stderr };
    },
  };
}
