import { setImmediate as yieldTurn, setTimeout as sleep } from 'node:timers/promises';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { forEachSentAt, nowMs, sentAtOffset, stampedCopy } from './freshness-stamp.js';
import { createLatencyHistogram, type LatencySummary } from './latency-histogram.js';

/** Options for {@link createDriver}. */
export interface DriverConfig {
  url: string;
  /** Subject the processor consumes. */
  inSubject: string;
  /** Wildcard covering every output subject of the processor. */
  outWildcard: string;
  /** Pre-encoded events to cycle through (bench/workload.ts). */
  pool: readonly Uint8Array[];
}

/** What one measured window saw, from the driver's side. */
export interface WindowResult {
  /** Events published inside the window. */
  published: number;
  /** Of those, how many came out (so far). */
  delivered: number;
  /** Window length, ms. */
  measureMs: number;
  /** Publish rate actually achieved, events/s (below the target when the driver is starved). */
  achievedRate: number;
  /** Window events delivered per second of window (see {@link Driver.closeWindow}). */
  deliveredRate: number;
  /** Freshness of the window's events: output received − `ts` stamped at publish. */
  latency: LatencySummary;
}

/**
 * Load generator and output observer in one process (one clock for stamping and receiving):
 * publishes stamped order events on its own connection, receives every output on another, and
 * keeps the latency histogram of the events published inside the current measurement window.
 */
export interface Driver {
  /** Open loop: publishes at `rate` events/s for `durationMs`, whatever the processor does. */
  publishAtRate(rate: number, durationMs: number): Promise<void>;
  /**
   * Closed loop: keeps at most `windowEvents` events published but not yet delivered, for
   * `durationMs`. Measures capacity without overrunning the processor's input buffers.
   */
  publishClosedLoop(windowEvents: number, durationMs: number): Promise<void>;
  /** Starts a measurement window: only events published from now on are counted. */
  openWindow(): void;
  /** Ends the window for publishing; its events are still counted when they come out later. */
  closeWindow(): void;
  /**
   * Waits until every event published so far came out; false on timeout, after which the missing
   * events are written off as lost so the next step starts from an even count. The timeout is
   * `timeoutMs` without any output, and `maxMs` (default `timeoutMs`) in all.
   */
  drain(timeoutMs: number, maxMs?: number): Promise<boolean>;
  /**
   * The window's figures. Delivery after the window's end is not counted against the rate for
   * up to `holdMs` (how long the mode holds events by design) plus `graceMs` (scheduling noise).
   */
  windowResult(holdMs: number, graceMs: number): WindowResult;
  close(): Promise<void>;
}

export async function createDriver(config: DriverConfig): Promise<Driver> {
  const pub: NatsConnection = await connect({ servers: config.url, noAsyncTraces: true, name: 'bench-driver-pub' });
  const sub: NatsConnection = await connect({ servers: config.url, noAsyncTraces: true, name: 'bench-driver-sub' });
  const pool = config.pool;
  const offsets = pool.map(sentAtOffset);
  const histogram = createLatencyHistogram();
  let next = 0;
  let publishedTotal = 0;
  let deliveredTotal = 0;
  let windowOpen = false;
  let windowStart = Infinity;
  let windowEnd = Infinity;
  let windowPublished = 0;
  let windowDelivered = 0;
  let lastWindowDelivery = 0;
  let wake: (() => void) | undefined;

  const publishOne = () => {
    const i = next;
    next = (next + 1) % pool.length;
    pub.publish(config.inSubject, stampedCopy(pool[i]!, offsets[i]!, nowMs()));
    publishedTotal++;
    if (windowOpen) windowPublished++;
  };

  sub.subscribe(config.outWildcard, {
    callback: (err, msg) => {
      if (err !== null) return;
      const received = nowMs();
      const n = forEachSentAt(msg.data, (sentAt) => {
        if (sentAt >= windowStart && sentAt <= windowEnd) {
          histogram.record(received - sentAt);
          windowDelivered++;
          lastWindowDelivery = received;
        }
      });
      deliveredTotal += n;
      if (wake !== undefined) {
        const w = wake;
        wake = undefined;
        w();
      }
    },
  });
  await sub.flush();

  return {
    async publishAtRate(rate, durationMs) {
      const start = performance.now();
      let sent = 0;
      for (;;) {
        const elapsed = performance.now() - start;
        const due = Math.min(Math.floor((rate * Math.min(elapsed, durationMs)) / 1000), Math.ceil((rate * durationMs) / 1000));
        while (sent < due) {
          publishOne();
          sent++;
        }
        if (elapsed >= durationMs) break;
        // 1 ms ticks: at 10k/s that is bursts of ~10 events, one socket write each.
        await sleep(1);
      }
      await pub.flush();
    },

    async publishClosedLoop(windowEvents, durationMs) {
      const end = performance.now() + durationMs;
      const chunk = Math.max(1, Math.min(1000, Math.floor(windowEvents / 4)));
      while (performance.now() < end) {
        const room = windowEvents - (publishedTotal - deliveredTotal);
        if (room >= chunk) {
          for (let i = 0; i < chunk; i++) publishOne();
          // Let the socket write and the output callbacks run between chunks.
          await yieldTurn();
        } else {
          await Promise.race([new Promise<void>((resolve) => (wake = resolve)), sleep(50)]);
        }
      }
      await pub.flush();
    },

    openWindow() {
      histogram.reset();
      windowPublished = 0;
      windowDelivered = 0;
      lastWindowDelivery = 0;
      windowStart = nowMs();
      windowEnd = Infinity;
      windowOpen = true;
    },

    closeWindow() {
      windowOpen = false;
      windowEnd = nowMs();
    },

    async drain(timeoutMs, maxMs = timeoutMs) {
      const start = performance.now();
      let progressAt = start;
      let seen = deliveredTotal;
      while (deliveredTotal < publishedTotal) {
        const now = performance.now();
        if (deliveredTotal !== seen) {
          seen = deliveredTotal;
          progressAt = now;
        }
        if (now - progressAt > timeoutMs || now - start > maxMs) {
          deliveredTotal = publishedTotal;
          return false;
        }
        await sleep(10);
      }
      return true;
    },

    windowResult(holdMs, graceMs) {
      const measureMs = Math.max(1, windowEnd - windowStart);
      const deliveredSpan = Math.max(measureMs, lastWindowDelivery - windowStart - holdMs - graceMs);
      return {
        published: windowPublished,
        delivered: windowDelivered,
        measureMs,
        achievedRate: (windowPublished * 1000) / measureMs,
        deliveredRate: (windowDelivered * 1000) / deliveredSpan,
        latency: histogram.summary(),
      };
    },

    async close() {
      await Promise.allSettled([pub.drain(), sub.drain()]);
    },
  };
}
