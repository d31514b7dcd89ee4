import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../../src/errors.js';
import { mapSizeFromEnv, openTopologyStore } from '../../../src/runtime/open-topology-store.js';
import type { Transport } from '../../../src/transport/transport.js';
import { useTempDir } from '../../helpers/temp-dir.js';

describe('openTopologyStore', () => {
  const dir = useTempDir('topology-store');
  const before = process.env['SLUICE_STATE_MAP_SIZE_BYTES'];
  afterEach(() => {
    if (before === undefined) delete process.env['SLUICE_STATE_MAP_SIZE_BYTES'];
    else process.env['SLUICE_STATE_MAP_SIZE_BYTES'] = before;
  });
  const durable = { durable: true } as Transport;
  const t = { topologyName: 'shop', transport: durable, logger: pino({ level: 'silent' }) };

  it('takes its size limit from SLUICE_STATE_MAP_SIZE_BYTES (what StateMapFullError says to raise for actors and durable batches)', async () => {
    process.env['SLUICE_STATE_MAP_SIZE_BYTES'] = String(64 * 1024 * 1024);
    const opened = openTopologyStore(t, dir());
    try {
      expect(opened.store.mapSizeBytes).toBe(64 * 1024 * 1024);
    } finally {
      await opened.close();
    }
  });

  it('refuses a value that is not a positive integer, naming the variable', () => {
    expect(mapSizeFromEnv({})).toBeUndefined();
    expect(mapSizeFromEnv({ SLUICE_STATE_MAP_SIZE_BYTES: '1048576' })).toBe(1_048_576);
    for (const bad of ['1e3x', '-1', '0', '1.5', 'lots']) {
      expect(() => mapSizeFromEnv({ SLUICE_STATE_MAP_SIZE_BYTES: bad })).toThrow(InvalidConfigError);
      expect(() => mapSizeFromEnv({ SLUICE_STATE_MAP_SIZE_BYTES: bad })).toThrow(
        `SLUICE_STATE_MAP_SIZE_BYTES: 'value' must be a positive integer (bytes), got '${bad}'`,
      );
    }
  });
});
