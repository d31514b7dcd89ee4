/**
 * A positional read that does not stop short: `readSync` may return fewer bytes than asked for.
 * Apart from `fileBatchBuffer` because both its reads and recovery (`scanBatchFile`) need it.
 */
import { readSync } from 'node:fs';

/** Reads `length` bytes at `position` of `fd` into `buf`; returns how many it got (fewer only at the end of the file). */
export function readFully(fd: number, buf: Buffer, length: number, position: number): number {
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}
