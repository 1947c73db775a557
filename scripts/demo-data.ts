/**
 * Sample data for `npm run demo`: the real FreqTrade databases of ../shared/fixtures as bot
 * instances (each with a sync-config.json whose Turso target is a local libSQL file), and
 * mongoexport files of users and portfolio snapshots in Extended JSON. Existing files are kept,
 * so a second demo run continues where the first left off.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EJSON, Decimal128, ObjectId } from 'bson';

const root = path.resolve(fileURLToPath(import.meta.url), '../..');
const fixtures = path.resolve(root, '../shared/fixtures/freqtrade');
const instances = path.resolve(process.env.BOT_INSTANCES_DIR ?? path.join(root, 'data/bot-instances'));
const turso = path.join(root, 'data/turso');
const exports = path.join(root, 'data/exports');

if (!existsSync(fixtures)) {
  process.stderr.write(
    `demo: ${fixtures} not found: the demo's bots are the FreqTrade databases of ../shared/fixtures\n`,
  );
  process.exit(1);
}
for (const dir of [instances, turso, exports]) mkdirSync(dir, { recursive: true });

for (const file of readdirSync(fixtures)
  .filter((f) => f.endsWith('.sqlite'))
  .sort()) {
  // 2024-49cols-th2002.dryrun.sqlite -> bot instance "th2002"
  const instance = file.split('-')[2]!.split('.')[0]!;
  const userData = path.join(instances, instance, 'user_data');
  mkdirSync(userData, { recursive: true });
  const db = path.join(userData, 'tradesv3.sqlite');
  if (!existsSync(db)) copyFileSync(path.join(fixtures, file), db);
  const syncConfig = path.join(instances, instance, 'sync-config.json');
  if (!existsSync(syncConfig)) {
    writeFileSync(
      syncConfig,
      `${JSON.stringify({ tursoUrl: `file:${path.join(turso, `${instance}.db`)}`, enabled: true, lastSync: null }, null, 2)}\n`,
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
  writeFileSync(snapshotsFile, `${lines.join('\n')}\n`);
}
process.stdout.write(`demo data: bots in ${instances}, Turso targets in ${turso}, exports in ${exports}\n`);
