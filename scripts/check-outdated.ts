/**
 * Fails (exit 1) when a runtime dependency (package.json "dependencies") is a breaking release
 * behind the registry's latest, unless DEPENDENCIES.md names why it is held back. `.ci/run` runs
 * it; by hand: `node --import tsx scripts/check-outdated.ts`. It asks the registry through npm
 * (`npm view`), so npm's own registry, proxy and certificate settings apply.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { outdatedProblems, parseHeldBack, type DependencyState } from './outdated-dependencies.js';

const run = promisify(execFile);
const root = new URL('..', import.meta.url);

async function latestVersion(name: string): Promise<string> {
  try {
    const { stdout } = await run('npm', ['view', name, 'dist-tags.latest', '--json'], { timeout: 60_000 });
    const latest: unknown = JSON.parse(stdout);
    if (typeof latest !== 'string') throw new Error(`no "latest" dist-tag in ${stdout.trim() || 'an empty answer'}`);
    return latest;
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new Error(`check-outdated: cannot ask the npm registry for ${name}'s latest version (${reason})`, {
      cause: error,
    });
  }
}

async function main(): Promise<number> {
  const pkg = JSON.parse(await readFile(new URL('package.json', root), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  const heldBack = parseHeldBack(await readFile(new URL('DEPENDENCIES.md', root), 'utf8'));
  const entries = Object.entries(pkg.dependencies ?? {});
  const dependencies: DependencyState[] = [];
  // A few `npm view` at a time: each is a process and a registry request.
  for (let i = 0; i < entries.length; i += 6) {
    const batch = entries.slice(i, i + 6);
    const latest = await Promise.all(batch.map(([name]) => latestVersion(name)));
    batch.forEach(([name, spec], j) => dependencies.push({ name, spec, latest: latest[j]! }));
  }
  const problems = outdatedProblems(dependencies, heldBack);
  if (problems.length > 0) {
    process.stderr.write(
      `check-outdated: ${problems.length} runtime ${problems.length === 1 ? 'dependency is' : 'dependencies are'} a breaking release behind, or DEPENDENCIES.md is out of date:\n` +
        problems.map((problem) => `  ${problem}\n`).join(''),
    );
    return 1;
  }
  const held = heldBack.map((row) => row.name).join(', ');
  process.stdout.write(
    `check-outdated: all ${dependencies.length} runtime dependencies are on the registry's latest major` +
      (held ? `, or held back in DEPENDENCIES.md (${held})` : '') +
      '\n',
  );
  return 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
