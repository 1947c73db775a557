import { FreqtradeMutator } from '../scripts/freqtrade/mutations.js';

/**
 * 1% of a bot's trades changed as FreqTrade changes them: half of them open trades closed (their
 * open orders cancelled, exit orders added; half of the exits dated hours back, as after a bot's
 * downtime), half new trades opened with their entry orders.
 */
export function changeOnePercent(file: string, trades: number, seed: number): number {
  const mutator = new FreqtradeMutator(file, seed);
  let changed = 0;
  try {
    const each = Math.max(1, Math.round(trades / 200));
    for (let i = 0; i < each; i++) {
      if (mutator.apply('close')) changed += 1;
      if (mutator.apply('open')) changed += 1;
    }
  } finally {
    mutator.close();
  }
  return changed;
}
