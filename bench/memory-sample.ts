import { readFileSync } from 'node:fs';

/** Memory of this process at one moment, MiB (Linux: RSS split as /proc/self/status gives it). */
export interface MemorySample {
  rss: number;
  /** What the process holds itself: heap, buffers, native allocations. */
  rssAnon: number;
  /** Mapped file pages (LMDB's map): page cache the kernel can drop under pressure. */
  rssFile: number;
  heapUsed: number;
  /** Buffers (values read from LMDB, outputs) live outside the JS heap: counted here. */
  arrayBuffers: number;
}

/** Bytes as MiB, one decimal. */
export const mib = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10;

function statusKb(status: string, field: string): number {
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) * 1024;
}

export function sampleMemory(): MemorySample {
  const status = readFileSync('/proc/self/status', 'utf8');
  const m = process.memoryUsage();
  return {
    rss: mib(m.rss),
    rssAnon: mib(statusKb(status, 'RssAnon')),
    rssFile: mib(statusKb(status, 'RssFile')),
    heapUsed: mib(m.heapUsed),
    arrayBuffers: mib(m.arrayBuffers),
  };
}

/** Each figure's larger value. */
export const largerMemory = (a: MemorySample, b: MemorySample): MemorySample => ({
  rss: Math.max(a.rss, b.rss),
  rssAnon: Math.max(a.rssAnon, b.rssAnon),
  rssFile: Math.max(a.rssFile, b.rssFile),
  heapUsed: Math.max(a.heapUsed, b.heapUsed),
  arrayBuffers: Math.max(a.arrayBuffers, b.arrayBuffers),
});

/** Peak RSS of the whole process so far (`VmHWM`), MiB. */
export const peakRssMiB = (): number => mib(statusKb(readFileSync('/proc/self/status', 'utf8'), 'VmHWM'));
