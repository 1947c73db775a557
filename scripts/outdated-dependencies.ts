/**
 * Which runtime dependencies are a breaking release behind the registry (scripts/check-outdated.ts
 * asks the registry; this decides). A breaking release is what a caret range refuses: a new major,
 * or for 0.x a new minor (0.77 -> 0.78), or for 0.0.x any new patch. DEPENDENCIES.md's table
 * names the dependencies held back on purpose and why.
 */

/** A package.json version spec this check understands: `1.2.3`, `^1.2.3` or `~1.2.3`. */
const specPattern = /^[\^~]?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/;
const versionPattern = /^(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/;

/** The part of a version that only a breaking release changes: "13", "0.78", "0.0.4". */
export function breakingLine(version: string): string {
  const match = versionPattern.exec(version);
  if (!match) throw new Error(`"${version}" is not a version (major.minor.patch)`);
  const [major, minor, patch] = [match[1]!, match[2]!, match[3]!];
  if (major !== '0') return major;
  if (minor !== '0') return `0.${minor}`;
  return `0.0.${patch}`;
}

/** The version a package.json spec starts from, or undefined for a spec this check cannot read (a tag, a URL, a range). */
export function specVersion(spec: string): string | undefined {
  const match = specPattern.exec(spec.trim());
  return match ? spec.trim().replace(/^[\^~]/, '') : undefined;
}

function compareLines(a: string, b: string): number {
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  // A line with fewer parts is a major (>= 1) and so after any 0.x line.
  if (left.length !== right.length) return right.length - left.length;
  for (let i = 0; i < left.length; i += 1) {
    if (left[i] !== right[i]) return left[i]! - right[i]!;
  }
  return 0;
}

/** A row of DEPENDENCIES.md's table: `| package | held at | why |`. */
export interface HeldBack {
  name: string;
  /** The breaking line it is held at: "5", "0.77". */
  line: string;
  why: string;
}

/** The rows of the table under "## Held back" in DEPENDENCIES.md (header and separator rows skipped). */
export function parseHeldBack(markdown: string): HeldBack[] {
  const section = markdown.split(/^## /m).find((part) => part.startsWith('Held back'));
  if (section === undefined) throw new Error('DEPENDENCIES.md has no "## Held back" section');
  const rows: HeldBack[] = [];
  for (const line of section.split('\n')) {
    if (!line.startsWith('|')) continue;
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim());
    if (cells.length !== 3) throw new Error(`DEPENDENCIES.md: a "Held back" row needs 3 cells: ${line}`);
    const [name, line_, why] = [cells[0]!, cells[1]!, cells[2]!];
    if (name === 'package' || /^-+$/.test(name)) continue;
    const held = { name: name.replaceAll('`', ''), line: line_.replaceAll('`', ''), why };
    if (held.why === '') throw new Error(`DEPENDENCIES.md: ${held.name} is held back without a reason`);
    rows.push(held);
  }
  return rows;
}

export interface DependencyState {
  name: string;
  /** The spec in package.json "dependencies". */
  spec: string;
  /** The registry's `latest` dist-tag. */
  latest: string;
}

/**
 * The problems, one line each naming the package, what it is at, what the registry has and what to
 * do; none when every dependency is on its latest breaking line or held back in DEPENDENCIES.md.
 * A row of the table that no longer holds anything back is a problem too (the doc must stay true).
 */
export function outdatedProblems(dependencies: readonly DependencyState[], heldBack: readonly HeldBack[]): string[] {
  const problems: string[] = [];
  const held = new Map(heldBack.map((row) => [row.name, row]));
  for (const { name, spec, latest } of dependencies) {
    const version = specVersion(spec);
    if (version === undefined) {
      problems.push(`${name}: package.json asks for "${spec}"; this check reads only 1.2.3, ^1.2.3 or ~1.2.3`);
      continue;
    }
    const current = breakingLine(version);
    const newest = breakingLine(latest);
    const row = held.get(name);
    held.delete(name);
    const behind = compareLines(newest, current) > 0;
    if (!behind) {
      if (row !== undefined) {
        problems.push(
          `${name}: DEPENDENCIES.md holds it back at ${row.line}, but it is on ${current} and the registry's latest is ${latest}: remove the row`,
        );
      }
      continue;
    }
    if (row === undefined) {
      problems.push(
        `${name}: package.json has ${spec} (line ${current}), the registry's latest is ${latest} (line ${newest}): move to ${latest} (read its changelog for breaking changes), or name why it is held back in DEPENDENCIES.md`,
      );
    } else if (row.line !== current) {
      problems.push(
        `${name}: DEPENDENCIES.md holds it back at ${row.line}, but package.json has ${spec} (line ${current}): correct the row`,
      );
    }
  }
  for (const row of held.values()) {
    problems.push(
      `${row.name}: DEPENDENCIES.md holds it back, but it is not in package.json "dependencies": remove the row`,
    );
  }
  return problems;
}
