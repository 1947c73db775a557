import { stat } from 'node:fs/promises';

/** A file whose last change is this recent may change again within its mtime's granularity. */
const RACY_MS = 2000;

async function fileStamp(file: string): Promise<{ text: string; mtimeMs: number } | undefined> {
  const info = await stat(file, { bigint: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (info === undefined) return undefined;
  return { text: `${info.size}:${info.mtimeNs}:${info.ino}`, mtimeMs: Number(info.mtimeMs) };
}

/**
 * Size, modification time and inode of the bot's database and its WAL: any write FreqTrade makes
 * changes one of them. Undefined when a file changed so recently that a further write could keep
 * the same stamp: such a fingerprint is not trusted, and the next push hashes the rows again.
 */
export async function sourceFingerprint(file: string, now = Date.now()): Promise<string | undefined> {
  const main = await fileStamp(file);
  // An empty WAL holds nothing (a reader creates one): it counts as no WAL.
  const walFile = await fileStamp(`${file}-wal`);
  const wal = walFile?.text.startsWith('0:') ? undefined : walFile;
  if (main === undefined) return undefined;
  if (now - main.mtimeMs < RACY_MS || (wal !== undefined && now - wal.mtimeMs < RACY_MS)) return undefined;
  return `${main.text}|${wal?.text ?? '-'}`;
}
