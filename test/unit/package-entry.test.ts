import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from '../helpers/temp-dir.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A resolve hook that appends every module URL the process resolves to a file: ESM imports go
 * through it, and so does the first import of a CommonJS package (better-sqlite3, pg-copy-streams).
 */
const recordingHook = `
import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(log, result.url + '\\n');
  return result;
}`;

interface Loaded {
  /** Every module URL resolved while importing the entry. */
  modules: string[];
  /** Native addons (.node files) in the CommonJS cache. */
  addons: string[];
}

/** Imports `entry` in a fresh Node process (through tsx for .ts) and lists what it loaded. */
async function modulesLoadedBy(entry: string): Promise<Loaded> {
  const dir = tempDir('entry');
  try {
    const log = path.join(dir.path, 'modules.txt');
    const script = `
      import { register, createRequire } from 'node:module';
      register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(recordingHook)}`)}, { data: { log: ${JSON.stringify(log)} } });
      const entry = await import(${JSON.stringify(pathToFileURL(entry).href)});
      if (typeof entry.enqueueUserUpsert !== 'function') throw new Error('the entry does not export enqueueUserUpsert');
      const cache = createRequire(import.meta.url).cache;
      process.stdout.write(JSON.stringify(Object.keys(cache).filter((file) => file.endsWith('.node'))));`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '--eval', script],
      { cwd: root },
    );
    const modules = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
    return { modules, addons: JSON.parse(stdout) as string[] };
  } finally {
    dir.remove();
  }
}

/** What the platform's API must not pay for when it imports the dual-write producer. */
function assertProducerOnly(loaded: Loaded): void {
  assert.ok(
    loaded.modules.some((url) => url.includes('/node_modules/bullmq/')),
    'the hook saw the entry load bullmq (it records imports)',
  );
  // msgpackr-extract is BullMQ's own optional accelerator: every BullMQ producer loads it.
  const ours = loaded.addons.filter((file) => !file.includes('/node_modules/@msgpackr-extract/'));
  assert.deepEqual(ours, [], 'no native addon of the ETL loaded');
  const forbidden = loaded.modules.filter((url) =>
    /\/node_modules\/(better-sqlite3|pg-copy-streams|@libsql)\/|\/jobs\/[^/]+\/handler\.(ts|js)$|\/jobs\/handlers\.(ts|js)$/.test(
      url,
    ),
  );
  assert.deepEqual(forbidden, [], 'no native module, COPY stream or job handler loaded');
}

describe('the package entry', () => {
  it('loads the producer side only: no native module and no handler (sources)', async () => {
    assertProducerOnly(await modulesLoadedBy(path.join(root, 'src/index.ts')));
  });

  const built = path.join(root, 'dist/index.js');
  it(
    'loads the producer side only: no native module and no handler (the built package)',
    { skip: existsSync(built) ? false : 'dist/ is not built (npm run build)' },
    async () => {
      assertProducerOnly(await modulesLoadedBy(built));
    },
  );
});
