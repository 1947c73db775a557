/**
 * Sample data for `npm run demo`, all generated (nothing from outside the repository): FreqTrade
 * bots of several schema versions, spot and futures, each with a sync-config.json whose Turso
 * target is a local libSQL file, and mongoexport files of users and portfolio snapshots with a
 * few bad lines, so the imports have rejects to show. Existing files are kept, so a second demo
 * run continues where the first left off.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EJSON, Decimal128, ObjectId } from 'bson';
import { DEMO_BOTS, demoBotDb } from './demo-bots.js';
import { createBotDatabase } from './freqtrade/generate-bot-db.js';
import { SCHEMA_VERSIONS } from './freqtrade/schemas.js';

const root = path.resolve(fileURLToPath(import.meta.url), '../..');
const instances = path.resolve(process.env.BOT_INSTANCES_DIR ?? path.join(root, 'data/bot-instances'));
const turso = path.join(root, 'data/turso');
const exports = path.join(root, 'data/exports');
for (const dir of [instances, turso, exports]) mkdirSync(dir, { recursive: true });

for (const [instance, options] of Object.entries(DEMO_BOTS)) {
  const db = demoBotDb(instances, instance);
  if (!existsSync(db)) {
    const made = createBotDatabase(db, options);
    process.stdout.write(
      `demo data: ${instance}: FreqTrade ${SCHEMA_VERSIONS[made.version]} (${made.version}), ` +
        `${Object.entries(made.rows)
          .map(([table, n]) => `${n} ${table}`)
          .join(', ')}\n`,
    );
  }
  const syncConfig = path.join(instances, instance, 'sync-config.json');
  if (!existsSync(syncConfig)) {
    writeFileSync(
      syncConfig,
      `${JSON.stringify({ tursoUrl: `file:${path.join(turso, `${instance}.db`)}`, enabled: true }, null, 2)}\n`,
    );
  }
}

const users = 200;
const oid = (prefix: string, n: number): ObjectId => new ObjectId(`${prefix}${n.toString(16).padStart(16, '0')}`);
const usersFile = path.join(exports, 'users.json');
if (!existsSync(usersFile)) {
  const lines = Array.from({ length: users }, (_, i) => {
    const n = i + 1;
    const doc = {
      _id: oid('65a00000', n),
      email: n === 17 ? undefined : `Trader${n}@Example.com`, // one user without an email: a reject to look at
      firebaseUid: `fb-${n}`,
      name: `Trader ${n}`,
      role: n % 50 === 0 ? 'admin' : 'user',
      paperBalance: Decimal128.fromString(`${10_000 + n}.25`),
      createdAt: new Date(Date.UTC(2024, 0, 1) + n * 3_600_000),
      updatedAt: new Date(Date.UTC(2024, 5, 1) + n * 3_600_000),
    };
    return EJSON.stringify(doc, { relaxed: false });
  });
  // Rejects to look at: a line cut short, and the same email again in other letter case.
  lines.splice(50, 0, '{"_id":{"$oid":"65a0000000000000000009ff"},"email":"cut@example.com","name":');
  lines.push(
    EJSON.stringify(
      { _id: oid('65a00000', 999), email: 'trader5@example.com', firebaseUid: 'fb-999', name: 'Trader 5 again' },
      { relaxed: false },
    ),
  );
  writeFileSync(usersFile, `${lines.join('\n')}\n`);
}
const snapshotsFile = path.join(exports, 'portfoliosnapshots.json');
if (!existsSync(snapshotsFile)) {
  const lines = Array.from({ length: 2000 }, (_, i) => {
    const n = i + 1;
    const user = 1 + (n % users);
    const doc = {
      _id: oid('65b00000', n),
      userId: `fb-${user}`,
      totalValue: Decimal128.fromString(`${10_000 + ((n * 37) % 5000)}.${String(n % 100).padStart(2, '0')}`),
      cashBalance: 2500.5,
      positionsValue: Decimal128.fromString('7500.25'),
      positions: [{ symbol: 'BTC/USDT', amount: Decimal128.fromString('0.012345678901234567') }],
      timeframe: n % 10 === 0 ? 'daily' : 'hourly',
      timestamp: new Date(Date.UTC(2024, 6, 1) + n * 3_600_000),
    };
    return EJSON.stringify(doc, { relaxed: false });
  });
  // Rejects to look at: a snapshot of a user nobody knows, a total that is not a number, a line that is not JSON.
  const bad = { cashBalance: 1, timeframe: 'hourly', timestamp: new Date(Date.UTC(2024, 8, 1)) };
  lines.push(
    EJSON.stringify({ _id: oid('65b00000', 9001), userId: 'fb-nobody', totalValue: 5, ...bad }, { relaxed: false }),
  );
  lines.push(
    EJSON.stringify({ _id: oid('65b00000', 9002), userId: 'fb-3', totalValue: 'a lot', ...bad }, { relaxed: false }),
  );
  lines.splice(700, 0, 'not json at all');
  writeFileSync(snapshotsFile, `${lines.join('\n')}\n`);
}
process.stdout.write(`demo data: bots in ${instances}, Turso targets in ${turso}, exports in ${exports}\n`);
