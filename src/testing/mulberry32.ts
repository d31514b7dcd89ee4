/**
 * A small seeded pseudo-random generator (mulberry32, 32-bit state): the same seed gives the
 * same numbers in [0, 1), so generated workloads, demos and property tests can be replayed from
 * a printed seed. Fast and good enough for test data; not for anything secret.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
