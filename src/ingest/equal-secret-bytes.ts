import { timingSafeEqual } from 'node:crypto';

/**
 * Whether `given` equals `expected`, in time that does not depend on where they differ (so a
 * forger cannot find a signature byte by byte). Lengths are public: a wrong length is unequal.
 */
export function equalSecretBytes(expected: Buffer, given: Buffer): boolean {
  return expected.length === given.length && timingSafeEqual(expected, given);
}
