import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../config.js';
import { assertInstanceName } from '../../bots/bot-instances.js';

/** Row hashes of one table as of the last successful push: key -> MD5. */
export type TableHashes = Map<string, string>;

/** What the last successful push of a bot left in its target. */
export interface PushState {
  /** The target it describes (without query string): another target means a full compare. */
  target: string;
  pushedAt: string;
  /** The source file's fingerprint when it was read (sourceFingerprint), if it was trustworthy. */
  source?: string | undefined;
  tables: Map<string, TableHashes>;
}

type StateConfig = Pick<Config, 'TURSO_STATE_DIR'>;

export function pushStatePath(config: StateConfig, instance: string): string {
  return path.join(path.resolve(config.TURSO_STATE_DIR), `${assertInstanceName(instance)}.json`);
}

/** Present while a push may have written to the target without recording it. */
export function pushMarkerPath(config: StateConfig, instance: string): string {
  return path.join(path.resolve(config.TURSO_STATE_DIR), `${assertInstanceName(instance)}.pushing`);
}

export type LoadedState = { state: PushState } | { state: undefined; why: string };

/**
 * The state of the last successful push, or why there is none to trust (missing, corrupt,
 * another target, an unfinished push): the caller then compares with the target itself.
 */
export async function loadPushState(config: StateConfig, instance: string, target: string): Promise<LoadedState> {
  const marker = await readFile(pushMarkerPath(config, instance)).then(
    () => true,
    () => false,
  );
  if (marker) return { state: undefined, why: 'the previous push did not finish' };
  let text: string;
  try {
    text = await readFile(pushStatePath(config, instance), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      return { state: undefined, why: 'no metadata of a previous push' };
    return { state: undefined, why: `metadata unreadable: ${(error as Error).message}` };
  }
  const state = parseState(text);
  if (state === undefined) return { state: undefined, why: 'metadata corrupt' };
  if (state.target !== target) return { state: undefined, why: 'metadata describes another target' };
  return { state };
}

function parseState(text: string): PushState | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null) return undefined;
  const { version, target, pushedAt, source, tables } = json as Record<string, unknown>;
  if (version !== 1 || typeof target !== 'string' || typeof pushedAt !== 'string') return undefined;
  if (source !== undefined && typeof source !== 'string') return undefined;
  if (typeof tables !== 'object' || tables === null) return undefined;
  const result = new Map<string, TableHashes>();
  for (const [name, rows] of Object.entries(tables)) {
    if (typeof rows !== 'object' || rows === null) return undefined;
    const hashes: TableHashes = new Map();
    for (const [key, hash] of Object.entries(rows as Record<string, unknown>)) {
      if (typeof hash !== 'string') return undefined;
      hashes.set(key, hash);
    }
    result.set(name, hashes);
  }
  return { target, pushedAt, source, tables: result };
}

/** Marks a push as started: until saveState, the next run will not trust the metadata. */
export async function markPushStarted(config: StateConfig, instance: string): Promise<void> {
  await mkdir(path.resolve(config.TURSO_STATE_DIR), { recursive: true });
  await writeFile(pushMarkerPath(config, instance), `${new Date().toISOString()}\n`);
}

/** Writes the state atomically (temporary file, then rename), then clears the started mark. */
export async function savePushState(config: StateConfig, instance: string, state: PushState): Promise<void> {
  const file = pushStatePath(config, instance);
  await mkdir(path.dirname(file), { recursive: true });
  const tables: Record<string, Record<string, string>> = {};
  for (const [name, hashes] of state.tables) tables[name] = Object.fromEntries(hashes);
  const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(
      temp,
      JSON.stringify({ version: 1, target: state.target, pushedAt: state.pushedAt, source: state.source, tables }),
      { flush: true },
    );
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await rm(pushMarkerPath(config, instance), { force: true });
}
