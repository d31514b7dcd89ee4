import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { filter, map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { actor } from '../../../src/actors/actor.js';
import { resetActorKey } from '../../../src/actors/actor-client.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import { readDeadLetters } from '../../../src/dead-letter/read-dead-letters.js';
import { TerminalError } from '../../../src/errors.js';
import { defineTopology } from '../../../src/runtime/define-topology.js';
import type { ActorStateReader } from '../../../src/runtime/actor-state-reader.js';
import { runTopology } from '../../../src/runtime/run-topology.js';
import { NatsTransport } from '../../../src/transport/nats/nats-transport.js';
import { permissionViolation } from '../../../src/transport/nats/permission-violation.js';
import { useNatsServer } from '../../helpers/nats-server.js';
import { until } from '../../helpers/until.js';
import { cleanEnv, sluice } from './run-cli.js';

const T = 'shop';

/**
 * The three kinds of NATS user of the README's security section, for topology `shop` reading
 * `shop.in` (stream SHOP_IN) and writing `shop.out`, as a nats-server config file.
 */
const AUTHORIZATION = {
  users: [
    {
      user: 'topology',
      password: 'topology-pw',
      permissions: {
        // With actors: their subjects, and `_INBOX.>` for the answers to askActor and a waiting resetActorKey.
        publish: { allow: ['$JS.API.>', '$JS.ACK.>', `${T}.>`, `sluice.dlq.${T}`, `sluice.dlq.${T}.>`, `sluice.actor.${T}.>`, '_INBOX.>'] },
        subscribe: { allow: ['_INBOX.>', `${T}.>`, `sluice.svc.${T}.>`, '$SRV.>', `sluice.actor.${T}.>`] },
        allow_responses: true,
      },
    },
    {
      user: 'operator',
      password: 'operator-pw',
      permissions: { publish: { allow: [`sluice.svc.${T}.>`, '$SRV.>', `sluice.actor.${T}.*.*.reset`] }, subscribe: { allow: ['_INBOX.>'] } },
    },
    {
      user: 'reader',
      password: 'reader-pw',
      permissions: {
        publish: { allow: [`sluice.svc.${T}.stats`, `sluice.svc.${T}.describe`, `sluice.svc.${T}.dead-letters`, `sluice.svc.${T}.dead-letter`, '$SRV.>'] },
        subscribe: { allow: ['_INBOX.>', `sluice.dlq.${T}`, `sluice.dlq.${T}.>`] },
      },
    },
  ],
};

describe('control endpoints and NATS permissions (real nats-server config with users)', () => {
  const server = useNatsServer({ config: { authorization: AUTHORIZATION } });

  it('a read-only user lists dead letters but cannot replay them; the operator can', { timeout: 60_000 }, async () => {
    const transport = await NatsTransport.connect({ servers: server().url, user: 'topology', pass: 'topology-pw' });
    await transport.ensureStream({ name: 'SHOP_IN', subjects: [`${T}.in`] });
    const run = await runTopology(
      defineTopology(T, (t) =>
        t.stream<number>('SHOP_IN', `${T}.in`).pipe(
          filter((e) => (e.data < 0 ? (t.deadLetter(e, new TerminalError(`negative: ${e.data}`)), false) : true)),
          map((e) => e.data),
          t.sink(`${T}.out`),
        ),
      ),
      { transport, logger: pino({ level: 'silent' }), closeTransport: false, allowControl: true },
    );
    try {
      await transport.publishDurable(`${T}.in`, msgpackCodec.encode(-1));
      await until(async () => (await transport.streamState(`SLUICE_DLQ_${T}`)).messages === 1, { what: 'the dead letter' });
      const as = (user: string, ...args: string[]) =>
        sluice(['dlq', ...args, T, '--nats', server().url, '--user', user, '--password', `${user}-pw`, '--timeout-ms', '5000'], cleanEnv()).result;

      const listed = await as('reader', 'list', '--json');
      expect(listed.code, listed.stderr).toBe(0);
      expect(JSON.parse(listed.stdout)).toMatchObject({ entries: [{ seq: 1, status: 'dead', error: { message: 'negative: -1' } }] });

      const denied = await as('reader', 'replay');
      expect(denied.code, denied.stderr).toBe(4);
      expect(denied.stderr).toBe(`sluice: permission denied: this NATS user may not publish to sluice.svc.${T}.replay\n`);
      expect((await readDeadLetters(transport, T)).entries.map((e) => e.status)).toEqual(['dead']);

      const replayed = await as('operator', 'replay', '--json');
      expect(replayed.code, replayed.stderr).toBe(0);
      expect(JSON.parse(replayed.stdout)).toMatchObject({ replayed: 1, records: [{ seq: 1, to: { stream: 'SHOP_IN', seq: 2 } }] });
      await until(async () => (await readDeadLetters(transport, T)).entries.map((e) => e.status).join() === 'replayed,parked', {
        what: 'replayed, then parked',
      });
    } finally {
      await run.stop();
      await transport.close();
    }
  });

  it('a read-only user may not reset an actor key (NATS refuses the publish); the operator resets it', { timeout: 60_000 }, async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-authz-'));
    const transport = await NatsTransport.connect({ servers: server().url, user: 'topology', pass: 'topology-pw' });
    const connectAs = (user: string) => NatsTransport.connect({ servers: server().url, user, pass: `${user}-pw` });
    const reader = await connectAs('reader');
    const operator = await connectAs('operator');
    await transport.ensureStream({ name: 'SHOP_LEDGER', subjects: [`${T}.ledger`] });
    // Stops a key on a negative amount: something for the operator to reset.
    const ledger = actor<number, { account: string; cents: number }>({
      name: 'ledger',
      key: (m) => m.data.account,
      initial: () => 0,
      supervision: 'stop-key',
      handle: (sum, msg) => {
        if (msg.kind !== 'message') return sum;
        if (msg.data.cents < 0) throw new TerminalError(`negative: ${msg.data.cents}`);
        return sum + msg.data.cents;
      },
    });
    let view: ActorStateReader<number> | undefined;
    const run = await runTopology(
      defineTopology(T, (t) => {
        t.actor(ledger, t.stream<{ account: string; cents: number }>('SHOP_LEDGER', `${T}.ledger`), { stateDir, reportEveryMs: 0 });
        view = t.actorState(ledger);
      }),
      { transport, logger: pino({ level: 'silent' }), closeTransport: false, allowControl: true },
    );
    try {
      for (const cents of [5, -1]) await transport.publishDurable(`${T}.ledger`, msgpackCodec.encode({ account: 'acc', cents }));
      await until(async () => (await view!.get('acc')).stopped, { what: 'the stopped key' });
      const address = { topology: T, actor: 'ledger' };

      const denied = await resetActorKey(reader, address, 'acc', { timeoutMs: 5_000 }).catch((err: unknown) => err);
      expect(permissionViolation(denied), String(denied)).toBe(true);
      expect(String(denied)).toContain(`sluice.actor.${T}.ledger.acc.reset`);
      expect(await view!.get('acc')).toMatchObject({ state: 5, stopped: true });

      await resetActorKey(operator, address, 'acc', { timeoutMs: 5_000 });
      expect(await view!.get('acc')).toMatchObject({ state: 5, stopped: false });
      await transport.publishDurable(`${T}.ledger`, msgpackCodec.encode({ account: 'acc', cents: 2 }));
      await until(async () => (await view!.get('acc')).state === 7, { what: 'the key handling input again' });
    } finally {
      await run.stop();
      await Promise.all([reader.close(), operator.close(), transport.close()]);
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
