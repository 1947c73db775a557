import { realpath, stat } from 'node:fs/promises';

/** What a file is at one moment: enough to tell, from a stat, that it is the same file, unchanged. */
export interface FileVersion {
  /**
   * Where the file resolves to, and that file's device, inode, size, and change and modification
   * times (ns); 'absent' when there is none; a version no other matches when it cannot be told.
   */
  version: string;
  /** The later of its modification and change times (ms); undefined when absent or untold. */
  changedMs?: number;
}

let untold = 0;

/**
 * What `file` is now. Taken before it is read: a write during the read leaves a version that no
 * longer matches. `resolve`: where it resolves to is part of its version (one more call), for a
 * reader whose rules depend on it (bot-config's inside-the-folder rule).
 */
export async function fileVersion(file: string, { resolve = true }: { resolve?: boolean } = {}): Promise<FileVersion> {
  try {
    const real = resolve ? await realpath(file) : file;
    const info = await stat(real, { bigint: true });
    return {
      version: `${real}\0${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`,
      changedMs: Number(info.mtimeMs > info.ctimeMs ? info.mtimeMs : info.ctimeMs),
    };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Any other error: the file is read (and its error told) again next time.
    return { version: code === 'ENOENT' || code === 'ENOTDIR' ? 'absent' : `untold ${++untold}` };
  }
}

/**
 * A file changed this recently may change again without its stamp changing (a coarse file system
 * clock could hide a second write): what was read of it then is not trusted to be current.
 */
export const RACY_MS = 2_000;

/** Whether what was read of these files, read at `readAt`, can be kept (none changed within RACY_MS before it; git's "racy" rule). */
export function settledBefore(readAt: number, versions: Iterable<FileVersion>): boolean {
  for (const file of versions) if (file.changedMs !== undefined && file.changedMs >= readAt - RACY_MS) return false;
  return true;
}
