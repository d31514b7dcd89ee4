import { VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { actorSubjects } from '../../../src/actors/actor-subjects.js';
import { TimerService } from '../../../src/actors/timer-service.js';
import type { StoredTimer } from '../../../src/actors/types.js';
import { msgpackCodec } from '../../../src/codec/msgpack-codec.js';
import type { DurablePublishOptions, PubAck } from '../../../src/transport/transport.js';

const subjects = actorSubjects({ topology: 'shop', actor: 'stock' });
const t = (key: string, timerId: string, dueAt: number, instance = `IN:${dueAt}:0`): StoredTimer => ({ key, timerId, dueAt, instance, payload: { p: key } });

/** A publish that records calls; `fail` makes the next n calls reject. */
function fakePublish() {
  const calls: { subject: string; msgId: string | undefined; firing: Record<string, unknown> }[] = [];
  let fail = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const publish = async (subject: string, data: Uint8Array, options?: DurablePublishOptions): Promise<PubAck> => {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await Promise.resolve();
    inFlight -= 1;
    if (fail > 0) {
      fail -= 1;
      throw new Error('no stream (test)');
    }
    calls.push({ subject, msgId: options?.msgId, firing: msgpackCodec.decode(data) as Record<string, unknown> });
    return { stream: 'IN', seq: calls.length, duplicate: false };
  };
  return { publish, calls, failNext: (n: number) => void (fail = n), maxInFlight: () => maxInFlight };
}

/** Advances virtual time to `frame`, letting publish promises settle between steps. */
async function advanceTo(scheduler: VirtualTimeScheduler, frame: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    scheduler.maxFrames = frame;
    scheduler.flush();
    await new Promise((r) => setImmediate(r));
  }
  scheduler.frame = Math.max(scheduler.frame, frame);
}

describe('TimerService', () => {
  it('publishes each timer on its .timer subject when due, with a deterministic message id', async () => {
    const scheduler = new VirtualTimeScheduler();
    const pub = fakePublish();
    const svc = new TimerService({ subjects, publish: pub.publish, load: () => [], scheduler });
    svc.start();
    svc.set(t('b', 'hold', 1000));
    svc.set(t('a', 'hold', 500));
    await advanceTo(scheduler, 499);
    expect(pub.calls).toEqual([]);
    await advanceTo(scheduler, 500);
    expect(pub.calls).toEqual([
      {
        subject: 'sluice.actor.shop.stock.a.timer',
        msgId: 'sluice.actor.shop.stock:a:hold:IN:500:0',
        firing: { timerId: 'hold', instance: 'IN:500:0', dueAt: 500, payload: { p: 'a' } },
      },
    ]);
    await advanceTo(scheduler, 1000);
    expect(pub.calls.map((c) => c.subject)).toEqual(['sluice.actor.shop.stock.a.timer', 'sluice.actor.shop.stock.b.timer']);
    expect(svc.size).toBe(0);
    expect(svc.firings).toBe(2);
  });

  it('does not fire a cancelled timer, and fires only the latest of a replaced one', async () => {
    const scheduler = new VirtualTimeScheduler();
    const pub = fakePublish();
    const svc = new TimerService({ subjects, publish: pub.publish, load: () => [], scheduler });
    svc.start();
    svc.set(t('a', 'hold', 100));
    svc.set(t('b', 'hold', 100));
    svc.cancel('a', 'hold');
    svc.set(t('b', 'hold', 300, 'IN:9:0'));
    await advanceTo(scheduler, 1000);
    expect(pub.calls.map((c) => [c.subject, c.firing['instance']])).toEqual([['sluice.actor.shop.stock.b.timer', 'IN:9:0']]);
  });

  it('loads stored timers on start and fires past-due ones at once', async () => {
    const scheduler = new VirtualTimeScheduler();
    scheduler.frame = 10_000;
    const pub = fakePublish();
    const svc = new TimerService({ subjects, publish: pub.publish, load: () => [t('a', 'x', 5_000), t('b', 'y', 20_000)], scheduler });
    svc.start();
    await advanceTo(scheduler, 10_000);
    expect(pub.calls.map((c) => c.firing['timerId'])).toEqual(['x']);
    await advanceTo(scheduler, 20_000);
    expect(pub.calls.map((c) => c.firing['timerId'])).toEqual(['x', 'y']);
  });

  it('re-publishes under the same message id after a failed publish, retryMs later', async () => {
    const scheduler = new VirtualTimeScheduler();
    const pub = fakePublish();
    const svc = new TimerService({ subjects, publish: pub.publish, load: () => [], scheduler, retryMs: 250 });
    svc.start();
    pub.failNext(1);
    svc.set(t('a', 'hold', 100));
    await advanceTo(scheduler, 349);
    expect(pub.calls).toEqual([]);
    await advanceTo(scheduler, 350);
    expect(pub.calls.map((c) => c.msgId)).toEqual(['sluice.actor.shop.stock:a:hold:IN:100:0']);
  });

  it('holds at most maxTimersInMemory and reloads the rest from the store, firing all in due order', async () => {
    const scheduler = new VirtualTimeScheduler();
    const pub = fakePublish();
    // The store: a firing removes its timer once "processed"; here, as soon as it is published.
    const stored = new Map(Array.from({ length: 10 }, (_, i) => [`k${i}`, t(`k${i}`, 'h', 100 * (10 - i))]));
    const svc = new TimerService({
      subjects,
      scheduler,
      maxTimersInMemory: 3,
      load: () => [...stored.values()],
      publish: async (subject, data, options) => {
        const ack = await pub.publish(subject, data, options);
        stored.delete(subject.split('.')[4]!);
        return ack;
      },
    });
    svc.start();
    expect(svc.size).toBe(3);
    svc.set(t('late', 'h', 5_000));
    expect(svc.size).toBe(3);
    stored.set('late', t('late', 'h', 5_000));
    await advanceTo(scheduler, 10_000);
    expect(pub.calls.map((c) => c.firing['dueAt'])).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 5000]);
  });

  it('keeps at most maxInFlight publishes awaiting their ack', async () => {
    const scheduler = new VirtualTimeScheduler();
    const pub = fakePublish();
    const svc = new TimerService({ subjects, publish: pub.publish, load: () => [], scheduler, maxInFlight: 4 });
    svc.start();
    for (let i = 0; i < 20; i++) svc.set(t(`k${i}`, 'h', 10));
    await advanceTo(scheduler, 10);
    expect(pub.calls).toHaveLength(20);
    expect(pub.maxInFlight()).toBe(4);
  });

  it('stop() ends firing', async () => {
    const scheduler = new VirtualTimeScheduler();
    const pub = fakePublish();
    const svc = new TimerService({ subjects, publish: pub.publish, load: () => [], scheduler });
    svc.start();
    svc.set(t('a', 'h', 10));
    svc.stop();
    await advanceTo(scheduler, 100);
    expect(pub.calls).toEqual([]);
  });
});
