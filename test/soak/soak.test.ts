import { expect, it } from 'vitest';
import { runSoak, soakSummary } from './soak.js';

/*
 * A short soak in CI (`npm run soak` runs the long one): steady load with processor SIGKILLs,
 * broker SIGKILLs and poison mixed in (undecodable bytes, and inputs the topology's map throws
 * on: resumed by the runtime's supervision); every input is reconciled against the outputs and the
 * dead letters.
 */
it('a short soak: kills, broker restarts and poison under load lose nothing and duplicate nothing', async () => {
  const result = await runSoak({
    durationMs: 30_000,
    ratePerSec: 300,
    processorKillEveryMs: [4000, 8000],
    brokerKillEveryMs: [11000, 15000],
    poisonEvery: 53,
    poisonKinds: ['bytes', 'throw'],
  });
  const summary = soakSummary(result);
  console.log(summary);
  expect.soft(result.processorKills, summary).toBeGreaterThanOrEqual(3);
  expect.soft(result.brokerRestarts, summary).toBeGreaterThanOrEqual(1);
  expect.soft(result.poison, summary).toBeGreaterThan(0);
  expect(
    {
      lost: result.lost,
      duplicated: result.duplicated,
      unexpected: result.unexpected,
      poisonLost: result.poisonLost,
      poisonDuplicated: result.poisonDuplicated,
      goodDeadLettered: result.goodDeadLettered,
    },
    `${summary}\n${result.stderr}`,
  ).toEqual({
    lost: 0,
    duplicated: 0,
    unexpected: 0,
    poisonLost: 0,
    poisonDuplicated: 0,
    goodDeadLettered: 0,
  });
}, 150_000);
