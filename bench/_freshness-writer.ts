/**
 * The freshness benchmark's stand-in for a fleet of running FreqTrades: holds every bot's
 * database open (WAL, as FreqTrade does) and, `RATE` times a second in all, picks a bot at random
 * and opens a trade, updates an open one (its stop loss and the highest rate seen, and its open
 * order's update date) or closes one, each in one write transaction. Every commit also sets the
 * trade's `max_rate` to a number that grows with each commit, so the reader can tell when a copy
 * holds that commit or a later one. Prints one JSON line per commit: bot, trade, marker, the
 * commit time (ms since the epoch) and what was done; stops after `SECONDS`. No date it writes
 * is after its clock, as FreqTrade's never are (a pair lock's end aside): a trade opens with its
 * fills already past, and one closed seconds after it opened closes quickly (trade-plan.ts).
 *
 *   node --import tsx bench/_freshness-writer.ts <BOT_INSTANCES_DIR> <bots,...> <RATE> <SECONDS>
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { addTrades, closeTrades } from '../scripts/freqtrade/generate-bot-db.js';
import { random } from '../scripts/freqtrade/trade-plan.js';

const [root, botList, rateText, secondsText] = process.argv.slice(2);
if (!root || !botList || !rateText || !secondsText) throw new Error('usage: <dir> <bots,...> <rate> <seconds>');
const bots = botList.split(',');
const rate = Number(rateText);
const until = Date.now() + Number(secondsText) * 1000;
const rng = random(20261202);
const base = 1_000_000;
let marker = 0;

const handles = new Map(
  bots.map((bot) => {
    const db = new Database(path.join(root, bot, 'user_data', 'tradesv3.sqlite'), { fileMustExist: true });
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    return [bot, db] as const;
  }),
);

function commit(bot: string): void {
  const db = handles.get(bot)!;
  const nowUs = Date.now() * 1000;
  const open = db.prepare<[], { id: number }>('SELECT id FROM trades WHERE is_open = 1 ORDER BY id').all();
  const roll = rng();
  const kind = open.length === 0 || roll < 0.35 ? 'open' : roll < 0.75 ? 'update' : 'close';
  marker += 1;
  const value = base + marker;
  let trade = 0;
  db.transaction(() => {
    if (kind === 'open') {
      trade = db.prepare<[], { n: number }>('SELECT coalesce(max(id), 0) + 1 AS n FROM trades').get()!.n;
      addTrades(db, {
        first: trade,
        count: 1,
        seed: marker,
        openShare: 1,
        startUs: nowUs,
        spacingUs: 0,
        notAfterUs: nowUs,
      });
    } else {
      trade = open[Math.floor(rng() * open.length)]!.id;
      if (kind === 'close') closeTrades(db, [trade], { closedUs: nowUs, seed: marker, notAfterUs: nowUs });
      else {
        db.prepare('UPDATE trades SET stop_loss = stop_loss * 1.001 WHERE id = ?').run(trade);
        db.prepare('UPDATE orders SET order_update_date = ? WHERE ft_trade_id = ? AND ft_is_open = 1').run(
          new Date(nowUs / 1000).toISOString().replace('T', ' ').replace('Z', ''),
          trade,
        );
      }
    }
    db.prepare('UPDATE trades SET max_rate = ? WHERE id = ?').run(value, trade);
  })();
  process.stdout.write(`${JSON.stringify({ bot, trade, marker: value, at: Date.now(), kind })}\n`);
}

const timer = setInterval(
  () => {
    if (Date.now() >= until) {
      clearInterval(timer);
      for (const db of handles.values()) db.close();
      process.exit(0);
    }
    commit(bots[Math.floor(rng() * bots.length)]!);
  },
  Math.round(1000 / rate),
);
