import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * `npm run bench [name ...]`: runs each benchmark (bench/<name>.ts) in a process of its own, so
 * one benchmark's memory never counts towards another's peak RSS. Without names, runs them all.
 */
const dir = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(dir)
  .filter((file) => file.endsWith('.ts') && file !== 'main.ts' && !file.startsWith('_'))
  .map((file) => file.slice(0, -3))
  .sort();
const requested = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
const unknown = requested.filter((name) => !available.includes(name));
if (unknown.length > 0) {
  process.stderr.write(`Unknown benchmark ${unknown.join(', ')}; available: ${available.join(', ')}\n`);
  process.exit(2);
}
let failed = 0;
for (const name of requested.length > 0 ? requested : available) {
  process.stdout.write(`\n== bench ${name}\n`);
  const run = spawnSync(process.execPath, ['--import', 'tsx', `${dir}${name}.ts`], { stdio: 'inherit' });
  if (run.status !== 0) failed += 1;
}
process.exit(failed > 0 ? 1 : 0);
