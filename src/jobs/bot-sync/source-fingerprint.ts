import { open, stat } from 'node:fs/promises';

/** Bumped when the mapping changes, so every bot is compared again after such an upgrade. */
const MAPPING_VERSION = 1;

/**
 * What the bot's database looks like from outside, cheaply: size and mtime (ns) of the file and
 * its WAL, and SQLite's header change counter (bumped by every commit in rollback-journal mode).
 * An unchanged fingerprint means an unchanged database, so the sync reads nothing else.
 */
export async function sourceFingerprint(file: string): Promise<string> {
  const main = await stat(file, { bigint: true });
  const wal = await stat(`${file}-wal`, { bigint: true }).catch(() => undefined);
  const header = Buffer.alloc(100);
  const handle = await open(file, 'r');
  try {
    await handle.read(header, 0, 100, 0);
  } finally {
    await handle.close();
  }
  const changeCounter = header.readUInt32BE(24);
  // An empty WAL is no WAL: SQLite creates one when a reader opens a WAL-mode database.
  const walPart = wal && wal.size > 0n ? `${wal.size}:${wal.mtimeNs}` : '-';
  return `v${MAPPING_VERSION}|${main.size}:${main.mtimeNs}|${walPart}|${changeCounter}`;
}
