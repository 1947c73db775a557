/**
 * A stand-in for a running FreqTrade in `npm run demo`: keeps trading in one bot's SQLite (WAL,
 * as FreqTrade has it), each step one write transaction that opens a trade or two and another
 * that closes the oldest open ones, so the scheduled syncs and pushes find changes. Nothing is
 * dated after the moment it is written (a trade's later orders have happened by then): bot-sync
 * trusts its change windows only while a bot's dates do not run ahead of the clock. Stops after
 * its current step on SIGTERM or SIGINT.
 *
 *   node --import tsx scripts/demo-writer.ts [interval ms]   (BOT_INSTANCES_DIR as the demo has it)
 */
import Database from 'better-sqlite3';
import { DEMO_BOTS, LIVE_BOT, demoBotDb } from './demo-bots.js';
import { addTrades, closeTrades } from './freqtrade/generate-bot-db.js';

const file = demoBotDb(process.env.BOT_INSTANCES_DIR ?? 'data/bot-instances', LIVE_BOT);
const { seed, tradingMode: mode = 'spot' } = DEMO_BOTS[LIVE_BOT]!;
const intervalMs = Number(process.argv[2] ?? '2000');
const db = new Database(file, { fileMustExist: true });
db.pragma('journal_mode = WAL');
db.pragma('busy_timeout = 5000');
const lastId = db.prepare<[], { n: number }>('SELECT coalesce(max(id), 0) AS n FROM trades');
const oldestOpen = db.prepare<[number], { id: number }>('SELECT id FROM trades WHERE is_open = 1 ORDER BY id LIMIT ?');

let steps = 0;
let opened = 0;
let closed = 0;
function step(): void {
  const nowUs = Date.now() * 1000;
  const count = 1 + (steps % 2);
  addTrades(db, {
    first: lastId.get()!.n + 1,
    count,
    seed,
    tradingMode: mode,
    openShare: 1,
    startUs: nowUs,
    spacingUs: 1000,
    notAfterUs: nowUs,
  });
  opened += count;
  const ids = oldestOpen.all(steps % 3 === 0 ? 1 : 2).map((r) => r.id);
  closed += closeTrades(db, ids, { closedUs: nowUs, seed, tradingMode: mode, notAfterUs: nowUs });
  steps += 1;
  if (steps % 10 === 0) process.stdout.write(`demo-writer: ${opened} trades opened, ${closed} closed in ${file}\n`);
}

const timer = setInterval(step, intervalMs);
step();
process.stdout.write(`demo-writer: trading in ${file} every ${intervalMs} ms\n`);
const stop = (): void => {
  clearInterval(timer);
  db.close();
  process.stdout.write(`demo-writer: stopped after ${opened} trades opened, ${closed} closed\n`);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
