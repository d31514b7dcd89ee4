import { z } from 'zod';
import { defineTopology, jsonSchemaOf } from '../../src/index.js';
import { fileSink, microBatch } from '../../operators/index.js';

/**
 * A topology with one of each part `describe` once missed: a responder (`t.respond`, with request
 * and reply schemas), a schedule (`t.schedule`), a value published by hand (`t.publish`, declared
 * with `t.declare`) and a `fileSink`. `describe-kinds.test.ts` runs it and compares what it used
 * on the wire and on disk with `sluice describe --json`. Files go to `$KINDS_FILE_DIR`.
 */
export const PriceRequest = z.object({ sku: z.string().min(1), quantity: z.number().int().positive() });
export const PriceReply = z.object({ sku: z.string(), cents: z.number().int() });
export const Audit = z.object({ sku: z.string(), at: z.number().int() });

export default defineTopology('kinds', (t) => {
  t.declare({ kind: 'sink', subject: 'kinds.audit', name: 'audit', payload: jsonSchemaOf(Audit) });
  t.respond<z.infer<typeof PriceRequest>, z.infer<typeof PriceReply>>(
    'kinds.price',
    (req) => {
      t.publish('kinds.audit', { sku: req.data.sku, at: req.eventTime });
      return { sku: req.data.sku, cents: req.data.quantity * 250 };
    },
    { deadlineMs: 2_000, fallback: (req) => ({ sku: req.data.sku, cents: -1 }), name: 'price', schema: PriceRequest, replySchema: PriceReply },
  );
  const ticks = t.schedule('tick', '* * * * * *', { tz: 'UTC' }).pipe(t.sink('kinds.ticks'));
  const files = t
    .stream('KINDS', 'kinds.lines')
    .pipe(microBatch({ maxCount: 2, maxWaitMs: 200 }), fileSink({ dir: process.env['KINDS_FILE_DIR'] ?? 'kinds-files', format: 'ndjson', name: 'lines' }));
  return [ticks, files];
});
