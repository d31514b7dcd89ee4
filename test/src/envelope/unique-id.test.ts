import { describe, expect, it } from 'vitest';
import { uniqueId } from '../../../src/envelope/unique-id.js';

describe('uniqueId', () => {
  it('never repeats, and starts with a 22-character nuid', () => {
    const ids = Array.from({ length: 10_000 }, () => uniqueId());
    expect(new Set(ids).size).toBe(ids.length);
    const prefix = ids[0]!.slice(0, 22);
    expect(prefix).toMatch(/^[0-9A-Za-z]{22}$/);
    for (const id of ids) expect(id.startsWith(prefix)).toBe(true);
  });
});
