import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { breakingLine, outdatedProblems, parseHeldBack, type HeldBack } from '../../scripts/outdated-dependencies.js';

const table = (rows: string): string =>
  `# Dependencies\n\n## Held back\n\n| package | held at | why |\n| ------- | ------- | --- |\n${rows}\n## Kept together\n\n| a | b | c |\n`;

describe('check-outdated: a runtime dependency a breaking release behind', () => {
  it('reads the breaking line as a caret range does: the major, the 0.x minor, the 0.0.x patch', () => {
    assert.equal(breakingLine('13.2.0'), '13');
    assert.equal(breakingLine('0.78.0'), '0.78');
    assert.equal(breakingLine('0.0.4'), '0.0.4');
    assert.equal(breakingLine('15.0.0-0'), '15');
    assert.throws(() => breakingLine('latest'), /"latest" is not a version/);
  });

  it('names each dependency behind, what package.json has and what the registry has', () => {
    const problems = outdatedProblems(
      [
        { name: 'better-sqlite3', spec: '^12.11.1', latest: '13.2.0' },
        { name: '@opentelemetry/instrumentation-pg', spec: '^0.77.0', latest: '0.78.0' },
        { name: 'bullmq', spec: '^6.7.0', latest: '6.7.6' }, // a patch: not behind
        { name: '@bull-board/api', spec: '9.10.1', latest: '9.10.2' }, // pinned, a patch behind: not behind
        { name: '@opentelemetry/core', spec: '^3.1.1', latest: '2.12.1' }, // ahead of the dist-tag: not behind
      ],
      [],
    );
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(
      problems[0]!,
      /^better-sqlite3: package\.json has \^12\.11\.1 \(line 12\), the registry's latest is 13\.2\.0/,
    );
    assert.match(problems[1]!, /^@opentelemetry\/instrumentation-pg: .*\(line 0\.77\).* 0\.78\.0 \(line 0\.78\)/);
    assert.match(problems[0]!, /name why it is held back in DEPENDENCIES\.md/);
  });

  it('accepts a dependency DEPENDENCIES.md holds back at its line, with a reason', () => {
    const heldBack = parseHeldBack(table('| `ioredis` | 5 | a peer of BullMQ allows 5 only |\n'));
    assert.deepEqual(heldBack, [{ name: 'ioredis', line: '5', why: 'a peer of BullMQ allows 5 only' }]);
    assert.deepEqual(outdatedProblems([{ name: 'ioredis', spec: '^5.11.1', latest: '6.1.0' }], heldBack), []);
  });

  it('fails on a row that no longer holds anything back, or holds another line, or another package', () => {
    const heldBack: HeldBack[] = [
      { name: 'ioredis', line: '5', why: 'w' },
      { name: 'chokidar', line: '4', why: 'w' },
      { name: 'left-pad', line: '1', why: 'w' },
    ];
    const problems = outdatedProblems(
      [
        { name: 'ioredis', spec: '^6.1.0', latest: '6.1.0' },
        { name: 'chokidar', spec: '^5.0.0', latest: '6.0.0' },
      ],
      heldBack,
    );
    assert.deepEqual(
      problems.map((problem) => problem.split(':')[0]),
      ['ioredis', 'chokidar', 'left-pad'],
    );
    assert.match(problems[0]!, /it is on 6 and the registry's latest is 6\.1\.0: remove the row/);
    assert.match(problems[1]!, /holds it back at 4, but package\.json has \^5\.0\.0 \(line 5\): correct the row/);
    assert.match(problems[2]!, /not in package\.json "dependencies": remove the row/);
  });

  it('refuses a spec it cannot read, and a row without a reason', () => {
    assert.match(
      outdatedProblems([{ name: 'x', spec: 'github:a/b', latest: '1.0.0' }], [])[0]!,
      /^x: package\.json asks for "github:a\/b"; this check reads only/,
    );
    assert.throws(() => parseHeldBack(table('| ioredis | 5 |  |\n')), /ioredis is held back without a reason/);
    assert.throws(() => parseHeldBack('# Dependencies\n'), /no "## Held back" section/);
  });

  it("reads the project's DEPENDENCIES.md", () => {
    const markdown = readFileSync(new URL('../../DEPENDENCIES.md', import.meta.url), 'utf8');
    for (const row of parseHeldBack(markdown)) assert.notEqual(row.why, '');
  });
});
