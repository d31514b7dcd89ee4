import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startMetricsServer, type MetricsServer } from '../../../src/runtime/start-metrics-server.js';

const silent = pino({ level: 'silent' });
const open: MetricsServer[] = [];
afterEach(async () => {
  for (const m of open.splice(0)) await m.close();
});

async function start(host?: string): Promise<MetricsServer> {
  const metrics = await startMetricsServer({ topologyName: 'm', port: 0, logger: silent, ...(host !== undefined ? { host } : {}) });
  open.push(metrics);
  return metrics;
}

/** What a TCP connection to host:port gets: `connected`, or the error code (`timeout` after 2 s). */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(2_000, () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/**
 * Addresses of this machine other than 127.0.0.1 that a server bound to every interface would
 * answer on: its non-loopback IPv4 addresses, and on Linux 127.0.0.2 (the whole of 127.0.0.0/8
 * reaches the loopback interface there, but a socket bound to 127.0.0.1 accepts only that address).
 */
function otherLocalAddresses(): string[] {
  const external = Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => a.family === 'IPv4' && !a.internal)
    .map((a) => a.address);
  return [...external, ...(process.platform === 'linux' ? ['127.0.0.2'] : [])];
}

describe('startMetricsServer without a host', () => {
  it('listens on 127.0.0.1 only: reachable there, refused on every other address of the machine (which 0.0.0.0 would answer on)', async () => {
    const metrics = await start();
    const url = new URL(metrics.url);
    expect(url.hostname).toBe('127.0.0.1');
    const port = Number(url.port);
    expect((await fetch(new URL('/healthz', url))).status).toBe(200);

    const others = otherLocalAddresses();
    if (others.length > 0) {
      // The same check against a server bound to every interface: each address answers, so a
      // refusal below comes from the default's binding, not from a firewall or a missing route.
      const everywhere = await start('0.0.0.0');
      const everywherePort = Number(new URL(everywhere.url).port);
      for (const address of others) {
        expect(await tryConnect(address, everywherePort), `0.0.0.0 server on ${address}`).toBe('connected');
        expect(await tryConnect(address, port), `default server on ${address}`).toBe('ECONNREFUSED');
      }
    }
  });
});
