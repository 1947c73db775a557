import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { createBotDatabase } from '../../scripts/freqtrade/generate-bot-db.js';
import { naiveUtc } from '../../scripts/freqtrade/trade-plan.js';
import { botDates } from '../helpers/bot-dates.js';
import { tempDir } from '../helpers/temp-dir.js';

const WRITER = fileURLToPath(new URL('../../bench/_freshness-writer.ts', import.meta.url));

interface Commit {
  bot: string;
  trade: number;
  at: number;
  kind: string;
}

describe("the freshness benchmark's writer", () => {
  const dir = tempDir('freshness-writer');
  after(() => dir.remove());

  it('never dates a row after the commit that wrote it, even a trade closed seconds after it opened', async () => {
    const bots = ['bot-a', 'bot-b'];
    // No open trade to start with: every close is of a trade the writer opened moments before.
    for (const [i, bot] of bots.entries())
      createBotDatabase(path.join(dir.path, bot, 'user_data', 'tradesv3.sqlite'), {
        trades: 20,
        seed: i + 1,
        openShare: 0,
      });
    const startedMs = Date.now();
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', WRITER, dir.path, bots.join(','), '60', '3'],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    const commits = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Commit);
    const kinds = new Set(commits.map((c) => c.kind));
    assert.deepEqual([...kinds].sort(), ['close', 'open', 'update'], 'the writer opened, updated and closed trades');
    for (const bot of bots) {
      // A row of a trade is written by that trade's commits: none of its dates may pass the last one's time.
      const lastCommitMs = new Map<number, number>();
      for (const c of commits) if (c.bot === bot) lastCommitMs.set(c.trade, c.at);
      const botEndMs = Math.max(startedMs, ...commits.filter((c) => c.bot === bot).map((c) => c.at));
      const late = botDates(path.join(dir.path, bot, 'user_data', 'tradesv3.sqlite')).filter((cell) => {
        const boundMs = cell.trade === undefined ? botEndMs : (lastCommitMs.get(cell.trade) ?? startedMs);
        return cell.date > naiveUtc(boundMs * 1000);
      });
      assert.deepEqual(late, [], `bot ${bot}: dates after the commit that wrote them`);
    }
  });
});
