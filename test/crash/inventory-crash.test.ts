import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../src/codec/msgpack-codec.js';
import { NatsTransport } from '../../src/transport/nats/nats-transport.js';
import { STREAMS, SUBJECTS } from '../../topologies/inventory.js';
import { readStreamDecoded } from '../helpers/read-stream.js';
import { useNatsServer } from '../helpers/nats-server.js';
import { crashSeed, mulberry32, spawnCrashChild } from './crash-child.js';
import type { ChildProgress, TopologyChildConfig } from './topology-child.js';

/*
 * The inventory topology's exactly-once claim under real crashes: the shipped topology runs in a
 * child process (topology-child.ts) over a real nats-server and is SIGKILLed at seeded random
 * moments (reproduce with SLUICE_CRASH_SEED=<seed>, printed on every run), then restarted until
 * every command is handled. The stock events read back must be, per SKU and in order, those of a
 * sequential reference model fed the commands in stream order: no reservation lost or doubled,
 * no units sold twice, never more held than on hand.
 */

const server = useNatsServer();
const SKUS = ['A', 'B', 'C', 'D'];
const STOCK = 150;
const ORDERS = 1500;
const KILLS = 3;

type Command = { subject: string; body: { orderId?: string; sku: string; quantity?: number } };

/** Restocks, then reservations of 1-3 units (about twice the stock), some cancelled and some confirmed later on. */
function commandsOf(rnd: () => number): Command[] {
  const out: Command[] = SKUS.map((sku) => ({ subject: SUBJECTS.restock, body: { sku, quantity: STOCK } }));
  const orders: { orderId: string; sku: string }[] = [];
  for (let i = 0; i < ORDERS; i++) {
    const order = { orderId: `o${i}`, sku: SKUS[Math.floor(rnd() * SKUS.length)]! };
    orders.push(order);
    out.push({ subject: SUBJECTS.reserve, body: { ...order, quantity: 1 + Math.floor(rnd() * 3) } });
    const earlier = orders[Math.floor(rnd() * orders.length)]!;
    if (i % 5 === 4) out.push({ subject: SUBJECTS.cancel, body: earlier });
    else if (i % 7 === 6) out.push({ subject: SUBJECTS.confirm, body: earlier });
  }
  return out;
}

/**
 * The reference: one SKU at a time in stream order, first come first served. Low-stock alerts
 * left out; a confirmation for an order that holds nothing is a dead letter (`dead` counts them).
 */
function expectedEvents(commands: readonly Command[]): { events: Map<string, string[]>; dead: number } {
  let dead = 0;
  const skus = new Map<string, { onHand: number; holds: Map<string, number> }>();
  const events = new Map<string, string[]>();
  for (const { subject, body } of commands) {
    const s = skus.get(body.sku) ?? { onHand: 0, holds: new Map<string, number>() };
    skus.set(body.sku, s);
    const out = events.get(body.sku) ?? [];
    events.set(body.sku, out);
    const available = () => s.onHand - [...s.holds.values()].reduce((a, b) => a + b, 0);
    const id = body.orderId!;
    const hold = s.holds.get(id);
    if (subject === SUBJECTS.restock) s.onHand += body.quantity!;
    else if (subject === SUBJECTS.reserve && hold === undefined) {
      if (body.quantity! <= available()) {
        s.holds.set(id, body.quantity!);
        out.push(`reserved ${id} ${body.quantity} ${available()}`);
      } else out.push(`rejected ${id} ${body.quantity} ${available()}`);
    } else if (subject === SUBJECTS.cancel && hold !== undefined) {
      s.holds.delete(id);
      out.push(`released ${id} ${hold} ${available()}`);
    } else if (subject === SUBJECTS.confirm && hold !== undefined) {
      s.holds.delete(id);
      s.onHand -= hold;
      out.push(`sold ${id} ${hold} ${s.onHand}`);
    } else if (subject === SUBJECTS.confirm) dead++;
  }
  return { events, dead };
}

/** An event as the model writes it. */
function line(subject: string, e: { orderId?: string; quantity?: number; available?: number; onHand?: number }): string {
  const kind = subject.slice(subject.lastIndexOf('.') + 1);
  return `${kind} ${e.orderId} ${e.quantity} ${kind === 'sold' ? e.onHand : e.available}`;
}

describe('inventory under real crashes (SIGKILL of the processor)', () => {
  it('every reservation, release and sale exactly once, per SKU in stream order, never oversold', async () => {
    const seed = crashSeed();
    const rnd = mulberry32(seed);
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-inventory-crash-'));
    const client = await NatsTransport.connect({ servers: server().url });
    const timeline: string[] = [];
    const say = (text: string) => timeline.push(text);
    try {
      await client.ensureStream({ name: STREAMS.input.name, subjects: [...STREAMS.input.subjects] });
      const commands = commandsOf(rnd);
      for (const c of commands) await client.publishDurable(c.subject, msgpackCodec.encode(c.body));
      const { events: expected, dead } = expectedEvents(commands);
      const total = [...expected.values()].reduce((n, list) => n + list.length, 0);

      process.env['SLUICE_STATE_DIR'] = stateDir;
      const cfg: TopologyChildConfig = { url: server().url, fixture: join(import.meta.dirname, 'topologies', 'inventory.ts'), params: {} };
      const launch = async () => {
        let progress: ChildProgress | undefined;
        let ready = false;
        const child = spawnCrashChild(join(import.meta.dirname, 'topology-child.ts'), cfg, (l) => {
          if (l === 'ready') ready = true;
          else if (l.startsWith('p ')) progress = JSON.parse(l.slice(2)) as ChildProgress;
        });
        await child.when(() => ready);
        if (!ready) throw new Error(`the child did not start: ${child.stderr()}`);
        return { child, received: () => progress?.received ?? 0 };
      };
      const outcomes = async () => {
        const info = await client.streamState(STREAMS.output.name).catch(() => ({ messages: 0 }));
        return info.messages;
      };
      // Each kill comes when a random number of the remaining events is out: while commands are
      // handed over, while the actor works through them, or as it recovers.
      for (let k = 1; k <= KILLS; k++) {
        const run = await launch();
        const before = await outcomes();
        const target = before + Math.floor(rnd() * (total - before) * 0.6);
        while ((await outcomes()) < target && run.child.proc.exitCode === null) await new Promise((r) => setTimeout(r, 5));
        run.child.proc.kill('SIGKILL');
        await run.child.exited;
        say(`SIGKILL at ${await outcomes()} events out (target ${target}), ${run.received()} received`);
      }
      const last = await launch();
      const deadline = Date.now() + 90_000;
      // Exactly-once: done when every expected event is out (low-stock alerts come on top).
      const nonLow = async () => (await readStreamDecoded(client.nc, STREAMS.output.name, (m) => m.subject)).filter((s) => s !== SUBJECTS.low).length;
      while (Date.now() < deadline && (await outcomes()) < total) await new Promise((r) => setTimeout(r, 200));
      while (Date.now() < deadline && (await nonLow()) < total) await new Promise((r) => setTimeout(r, 200));
      const dlq = async () => (await client.streamState('SLUICE_DLQ_inventory').catch(() => ({ messages: 0 }))).messages;
      while (Date.now() < deadline && (await dlq()) < dead) await new Promise((r) => setTimeout(r, 200));
      await new Promise((r) => setTimeout(r, 500)); // anything beyond the expected would show up by now
      last.child.proc.kill('SIGTERM');
      expect((await last.child.exited).code, last.child.stderr()).toBe(0);

      const events = await readStreamDecoded(client.nc, STREAMS.output.name, (m) => ({
        subject: m.subject,
        e: msgpackCodec.decode(m.data) as { sku: string; orderId?: string; quantity?: number; available?: number; onHand?: number },
      }));
      const got = new Map<string, string[]>();
      for (const { subject, e } of events) if (subject !== SUBJECTS.low) got.set(e.sku, [...(got.get(e.sku) ?? []), line(subject, e)]);
      const byOrder = new Map<string, number>();
      for (const list of got.values())
        for (const l of list) byOrder.set(l.split(' ').slice(0, 2).join(' '), (byOrder.get(l.split(' ').slice(0, 2).join(' ')) ?? 0) + 1);
      const wanted = new Set([...expected.values()].flat().map((l) => l.split(' ').slice(0, 2).join(' ')));
      const lost = [...wanted].filter((k) => !byOrder.has(k)).length;
      const duplicated = [...byOrder.values()].reduce((n, c) => n + c - 1, 0);
      const oversold = events.filter(({ subject, e }) => subject === SUBJECTS.reserved && (e.available ?? -1) < 0).length;
      const deadLetters = await dlq();
      console.log(
        `inventory crash: seed ${seed}; ${commands.length} commands; ${total} events expected, ${events.length} out (with low-stock); lost ${lost}, duplicated ${duplicated}, oversold ${oversold}; dead letters ${deadLetters} (model ${dead}); [${timeline.join('; ')}]`,
      );
      expect({ lost, duplicated, oversold, deadLetters }, `seed ${seed}`).toEqual({ lost: 0, duplicated: 0, oversold: 0, deadLetters: dead });
      expect(got, `seed ${seed}`).toEqual(expected);
    } finally {
      delete process.env['SLUICE_STATE_DIR'];
      await client.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 180_000);
});
