import { filter } from 'rxjs';
import { defineTopology } from 'sluice';

/** Stock levels in, an alert out for every SKU that runs low. */
export const SUBJECTS = { levels: 'shop.stock.levels', low: 'shop.stock.low' } as const;

export interface StockLevel {
  sku: string;
  onHand: number;
}

export default defineTopology('low-stock', (t) =>
  t.source<StockLevel>(SUBJECTS.levels).pipe(
    filter((e) => e.data.onHand < 5),
    t.sink(SUBJECTS.low),
  ),
);
