export { Settlement } from './settlement.js';
export { currentSettlement, holdCurrent, withSettlement } from './settle-scope.js';
