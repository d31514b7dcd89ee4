import inventory from '../../../topologies/inventory.js';

/** The shipped inventory topology as it is (fixed subjects and streams; its state goes to `SLUICE_STATE_DIR`). */
export default function inventoryFixture() {
  return inventory;
}
