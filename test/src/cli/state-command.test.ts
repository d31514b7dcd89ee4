import { describe, expect, it } from 'vitest';
import type { ActorStateReport } from '../../../src/cli/state-command.js';
import { INITIAL_UNITS } from '../../helpers/orders-ledger.js';
import { useNatsServer } from '../../helpers/nats-server.js';
import { sluice } from './run-cli.js';
import { expectedAvailable, useRunningOrdersLedger } from './running-orders-ledger.js';

describe('sluice state <topology> <actor> <key> (child process, real nats-server)', () => {
  const server = useNatsServer();
  useRunningOrdersLedger(server);

  it("prints an actor key's committed state; --json adds found, last applied seq and stopped", { timeout: 60_000 }, async () => {
    const text = await sluice(['state', 'orders-ledger', 'stock', 'SKU-1', '--nats', server().url]).result;
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toBe(
      `orders-ledger / stock / SKU-1: committed state (last applied seq ${/seq (\d+)/.exec(text.stdout)?.[1]})\n{\n  "available": ${expectedAvailable('SKU-1')}\n}\n`,
    );

    const json = await sluice(['state', 'orders-ledger', 'stock', 'SKU-2', '--nats', server().url, '--json']).result;
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as ActorStateReport;
    expect(report).toEqual({
      topology: 'orders-ledger',
      actor: 'stock',
      key: 'SKU-2',
      found: true,
      lastSeq: expect.any(Number),
      stopped: null,
      state: { available: expectedAvailable('SKU-2') },
    });
    expect(report.lastSeq).toBeGreaterThan(0);

    // A key the actor never saw: its initial state, said to be one.
    const fresh = await sluice(['state', 'orders-ledger', 'stock', 'SKU with spaces/and.dots', '--nats', server().url, '--json']).result;
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(JSON.parse(fresh.stdout)).toMatchObject({ key: 'SKU with spaces/and.dots', found: false, lastSeq: null, state: { available: INITIAL_UNITS } });
  });

  it('exits 3 with one line when the actor is not running, 2 for a name that cannot be a subject token', { timeout: 60_000 }, async () => {
    const missing = await sluice(['state', 'orders-ledger', 'nobody', 'k', '--nats', server().url]).result;
    expect(missing.code).toBe(3);
    expect(missing.stderr).toBe(
      "sluice state: actor 'nobody' of topology 'orders-ledger' is not running (no responders on sluice.actor.orders-ledger.nobody.k)\n",
    );
    const bad = await sluice(['state', 'orders-ledger', 'st.ock', 'k', '--nats', server().url]).result;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^sluice state: .*'actor' must be letters, digits, '-' or '_', got "st\.ock"\n$/);
  });
});
