import { filter } from 'rxjs';
import { defineTopology } from 'sluice';
import { z } from 'zod';

/** Stock levels in, an alert out for every SKU that runs low. */
export const SUBJECTS = { levels: 'shop.stock.levels', low: 'shop.stock.low' } as const;

/** In on `shop.stock.levels`, and out unchanged on `shop.stock.low` when `onHand` is below 5. */
export const StockLevelSchema = z.object({ sku: z.string().min(1), onHand: z.number().int() });
export type StockLevel = z.infer<typeof StockLevelSchema>;

export default defineTopology('low-stock', (t) =>
  t.source<StockLevel>(SUBJECTS.levels, { schema: StockLevelSchema }).pipe(
    filter((e) => e.data.onHand < 5),
    t.sink(SUBJECTS.low, { schema: StockLevelSchema }),
  ),
);
