import { afterEach, describe, expect, it } from 'vitest';
import { startTestDriver, type TopologyTestDriver } from 'sluice/testing';
import lowStock, { SUBJECTS, type StockLevel } from '../../topologies/low-stock.js';

// The README's example, run exactly as shown there.
describe('low-stock', () => {
  let driver: TopologyTestDriver;
  afterEach(() => driver.stop());

  it('alerts for SKUs with fewer than 5 on hand', async () => {
    driver = await startTestDriver(lowStock);
    driver.input<StockLevel>(SUBJECTS.levels).publish({ sku: 'TEE-BLK-M', onHand: 12 });
    driver.input<StockLevel>(SUBJECTS.levels).publish({ sku: 'WATCH-STEEL', onHand: 2 });
    expect(await driver.output<StockLevel>(SUBJECTS.low).readAll()).toEqual([{ sku: 'WATCH-STEEL', onHand: 2 }]);
  });
});
