import { mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { PermanentJobError } from './errors.js';

/**
 * Paths that arrive in a job's payload (the board's add-job API, `ctp-etl enqueue`) are input:
 * a worker reads and writes only inside the folder configured for them. `ctp-etl run`, in the
 * operator's own shell, may name any path (ctx.operatorShell).
 */
export interface ConfinedFolder {
  /** The variable that names the folder, for the refusal (IMPORT_FILES_DIR, RESTORE_DIR). */
  variable: string;
  dir: string;
}

const isInside = (dir: string, file: string) => {
  const relative = path.relative(dir, file);
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
};

async function realOrUndefined(file: string): Promise<string | undefined> {
  return realpath(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
}

/**
 * `given` resolved against the folder (relative paths) with its real path (symlinks followed)
 * inside it; for a file that does not exist yet, its folder's real path. Refusals are permanent
 * and name the job, the path and the rule.
 */
export async function confinedPath(
  job: string,
  given: string,
  folder: ConfinedFolder,
  { create }: { create: boolean },
): Promise<string> {
  const root = path.resolve(folder.dir);
  if (create) await mkdir(root, { recursive: true });
  const realRoot = (await realOrUndefined(root)) ?? root;
  const lexical = path.resolve(root, given);
  const refuse = (why: string) =>
    new PermanentJobError(
      `${job}: ${lexical} is refused: a queued job may only use files inside ${folder.variable} (${realRoot})${why}`,
    );
  const rebased = isInside(root, lexical) ? path.join(realRoot, path.relative(root, lexical)) : lexical;
  const real = await realOrUndefined(rebased);
  if (real !== undefined) {
    if (!isInside(realRoot, real)) throw refuse(real === rebased ? '' : `; it links to ${real}`);
    return real;
  }
  const parent = await realOrUndefined(path.dirname(rebased));
  if (parent === undefined || !isInside(realRoot, path.join(parent, path.basename(rebased))))
    throw refuse(parent === undefined ? '; its folder does not exist' : '');
  return path.join(parent, path.basename(rebased));
}
