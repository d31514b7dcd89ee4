import { existsSync } from 'node:fs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { connect } from '../../../src/runtime/connect.js';
import { TransportError } from '../../../src/errors.js';
import { useNatsServer } from '../../helpers/nats-server.js';

function capture() {
  const lines: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) });
  return { logger, lines };
}

describe('connect', () => {
  const server = useNatsServer();

  it('uses the given broker, with a description free of secrets', async () => {
    const { logger, lines } = capture();
    const url = server().url.replace('nats://', 'nats://bob:hunter2@');
    // The test server has no auth; the client still sends what it was given.
    const c = await connect({ nats: { servers: url, pass: 'hunter2' }, logger, env: {} });
    try {
      expect(c.mode).toBe('nats');
      expect(c.transport.kind).toBe('nats');
      expect(c.description).toBe(`nats ${server().url.replace('nats://', 'nats://bob:***@')}`);
      expect(JSON.stringify(lines)).not.toContain('hunter2');
    } finally {
      await c.dispose();
    }
  });

  it('embedded default: starts a private nats-server with JetStream, and dispose removes it and its store', async () => {
    const { logger } = capture();
    const c = await connect({ logger, env: { SLUICE_NATS_SERVER_BIN: '/usr/sbin/nats-server' } });
    const dir = /JetStream store (\S+),/.exec(c.description)?.[1];
    try {
      expect(c.mode).toBe('embedded');
      expect(c.transport.durable).toBe(true);
      await c.transport.ensureStream({ name: 'PROBE', subjects: ['probe.>'] });
      expect((await c.transport.publishDurable('probe.1', new Uint8Array([1]))).seq).toBe(1);
      expect(dir !== undefined && existsSync(dir)).toBe(true);
    } finally {
      await c.dispose();
      await c.dispose(); // idempotent
    }
    expect(existsSync(dir!)).toBe(false);
  });

  it('without nats-server: the in-process transport and exactly one warning that durability is off', async () => {
    const { logger, lines } = capture();
    const c = await connect({ logger, env: { SLUICE_NATS_SERVER_BIN: '/nonexistent/nats-server' } });
    try {
      expect(c.mode).toBe('local');
      expect(c.transport.durable).toBe(false);
      const warnings = lines.filter((l) => l.level >= 40);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.msg).toMatch(/durability is OFF/);
    } finally {
      await c.dispose();
    }
  });

  it('SLUICE_REQUIRE_NATS=1 turns the fallback into an error', async () => {
    const { logger } = capture();
    await expect(connect({ logger, env: { SLUICE_NATS_SERVER_BIN: '/nonexistent/nats-server', SLUICE_REQUIRE_NATS: '1' } })).rejects.toThrow(TransportError);
  });
});
