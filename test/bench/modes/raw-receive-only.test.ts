import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { modeContextFor } from './mode-context.js';
import { start } from '../../../bench/modes/raw-receive-only.js';
import { makeOrderPool } from '../../../bench/workload.js';
import { uniqueName, useNatsServer } from '../../helpers/nats-server.js';
import { until } from '../../helpers/until.js';

describe('bench mode raw-receive-only (the floor)', () => {
  const server = useNatsServer();

  it('receives every event and publishes nothing', async () => {
    const nc = await connect({ servers: server().url });
    const prefix = uniqueName('floor');
    let out = 0;
    nc.subscribe(`${prefix}.>`, {
      callback: (_e, m) => {
        if (m.subject !== `${prefix}.in`) out++;
      },
    });
    await nc.flush();
    const mode = await start(modeContextFor(server().url, prefix, {}));
    for (const p of makeOrderPool({ poolSize: 50, seed: 3 })) nc.publish(`${prefix}.in`, p);
    await nc.flush();
    await until(() => mode.counters().natsMsgs >= 50);
    await mode.stop();
    await nc.flush();
    expect(mode.counters().natsMsgs).toBe(50);
    expect(out).toBe(0);
    await nc.close();
  });
});
