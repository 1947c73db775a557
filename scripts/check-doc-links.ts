/**
 * Fails (exit 1) when a relative link of a top-level page (README.md, RELIABILITY.md, ...) or of
 * docs/*.md leads to no file, or to a heading its page does not have, or when the README outgrows
 * what a newcomer reads in five minutes (the reference belongs in docs/). `.ci/run` runs it; by
 * hand: `node --import tsx scripts/check-doc-links.ts`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const README_MAX_BYTES = 15_000;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Markdown outside fenced code blocks, with inline code spans emptied (their brackets are no links). */
function proseLines(markdown: string): string[] {
  let fenced = false;
  const lines: string[] = [];
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    else if (!fenced) lines.push(line);
  }
  return lines;
}

/** The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to dashes, repeats numbered. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const text = heading.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/`/g, '');
    const slug = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

function linkTargets(markdown: string): string[] {
  const targets: string[] = [];
  for (const line of proseLines(markdown)) {
    const prose = line.replace(/`[^`]*`/g, '``');
    for (const match of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      if (match[1] !== undefined) targets.push(match[1]);
    }
  }
  return targets;
}

function problemsOf(page: string): string[] {
  const markdown = readFileSync(page, 'utf8');
  const problems: string[] = [];
  for (const target of linkTargets(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto: are not ours to check
    const [path = '', anchor] = target.split('#', 2);
    const file = path === '' ? page : resolve(dirname(page), decodeURIComponent(path));
    const name = relative(root, page);
    if (!existsSync(file)) {
      problems.push(`${name}: the link ${target} leads to no file (${relative(root, file)})`);
    } else if (anchor !== undefined && anchor !== '') {
      if (!file.endsWith('.md')) {
        problems.push(`${name}: the link ${target} names a heading in a file that is no Markdown page`);
      } else if (!headingAnchors(readFileSync(file, 'utf8')).has(anchor)) {
        problems.push(`${name}: the link ${target} names a heading ${relative(root, file)} does not have`);
      }
    }
  }
  return problems;
}

const markdownIn = (folder: string): string[] =>
  readdirSync(folder)
    .filter((entry) => entry.endsWith('.md'))
    .sort()
    .map((entry) => join(folder, entry));
const readme = join(root, 'README.md');
const pages = [...markdownIn(root), ...markdownIn(join(root, 'docs'))];
const problems = pages.flatMap(problemsOf);
const readmeBytes = readFileSync(readme).length;
if (readmeBytes >= README_MAX_BYTES) {
  problems.push(`README.md: ${readmeBytes} bytes, over ${README_MAX_BYTES}: move reference text to a page of docs/`);
}
for (const problem of problems) console.error(problem);
if (problems.length > 0) process.exit(1);
console.log(`${pages.length} pages, every relative link leads somewhere; README.md ${readmeBytes} bytes`);
