import { didYouMean } from '../util/did-you-mean.js';
import { COMMIT_TYPES } from './suggest.js';
import type { DestructiveChange } from './types.js';

/** One problem in a commit message, 1-based line and column in the message file. */
export interface MessageProblem {
  line: number;
  column: number;
  message: string;
}

const HEADER_MAX = 100;
/** Words people write for a type, and the type they mean. */
const ALIASES: Record<string, string> = {
  feature: 'feat',
  features: 'feat',
  bug: 'fix',
  bugfix: 'fix',
  hotfix: 'fix',
  doc: 'docs',
  documentation: 'docs',
  tests: 'test',
  refactoring: 'refactor',
  performance: 'perf',
  chores: 'chore',
};
const SCISSORS = /^# -+ >8 -+$/;
const HEADER =
  /^(?<type>[A-Za-z]+)(?:\((?<scope>[^()]*)\))?(?<bang>!)?(?<colon>:?)(?<space>\s*)(?<subject>.*)$/;

/** The message as git stores it: comment lines and everything below the scissors line removed, trailing blank lines trimmed. */
export function cleanMessage(text: string): string[] {
  const lines: string[] = [];
  for (const line of text.replace(/\r\n/g, '\n').split('\n')) {
    if (SCISSORS.test(line)) break;
    lines.push(line);
  }
  const kept = lines.map((line) => (line.startsWith('#') ? undefined : line));
  while (kept.length > 0 && (kept[kept.length - 1] === undefined || kept[kept.length - 1]?.trim() === ''))
    kept.pop();
  return kept.filter((line): line is string => line !== undefined);
}

/**
 * Checks a commit message against Conventional Commits 1.0.0: `type(scope)!: subject` with a known
 * type, a subject without a final period, a header of at most 100 characters, a blank line before the
 * body, `BREAKING CHANGE:` spelled as the spec says. Merge, revert and fixup!/squash!/amend! messages
 * pass as git writes them. When the staged change drops or renames (`destructive`), the message must
 * say it is breaking (`!` or a BREAKING CHANGE footer). Pure; line numbers are those of the cleaned
 * message, which match the file when comments come last (as git writes them).
 */
export function checkMessage(text: string, destructive: readonly DestructiveChange[] = []): MessageProblem[] {
  const lines = cleanMessage(text);
  const header = lines[0] ?? '';
  if (header.trim() === '') return [{ line: 1, column: 1, message: 'the message is empty' }];
  if (/^(Merge |Revert "|fixup! |squash! |amend! )/.test(header)) return [];
  const problems: MessageProblem[] = [];
  const match = HEADER.exec(header);
  const groups = match?.groups ?? {};
  const type = groups['type'] ?? '';
  if (match === null || groups['colon'] !== ':') {
    problems.push({
      line: 1,
      column: 1,
      message:
        'the first line must read "type(scope): subject", e.g. "fix(api): keep the cart when the session expires"',
    });
  } else {
    if (!COMMIT_TYPES.includes(type)) {
      const suggestion = ALIASES[type.toLowerCase()] ?? didYouMean(type.toLowerCase(), COMMIT_TYPES);
      problems.push({
        line: 1,
        column: 1,
        message: `unknown type "${type}"${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}; expected one of ${COMMIT_TYPES.join(', ')}`,
      });
    }
    const scope = groups['scope'];
    if (scope !== undefined && scope.trim() === '')
      problems.push({
        line: 1,
        column: type.length + 1,
        message: 'the scope in parentheses is empty: name it or drop the parentheses',
      });
    const subjectColumn = header.length - (groups['subject'] ?? '').length + 1;
    if (groups['space'] !== ' ')
      problems.push({
        line: 1,
        column: subjectColumn - (groups['space'] ?? '').length,
        message: 'write one space after the colon',
      });
    const subject = groups['subject'] ?? '';
    if (subject.trim() === '')
      problems.push({ line: 1, column: subjectColumn, message: 'the subject after the colon is empty' });
    else if (subject.endsWith('.'))
      problems.push({ line: 1, column: header.length, message: 'the subject ends with a period' });
  }
  if (header.length > HEADER_MAX)
    problems.push({
      line: 1,
      column: HEADER_MAX + 1,
      message: `the first line is ${header.length} characters; keep it to ${HEADER_MAX}`,
    });
  if (lines.length > 1 && (lines[1] ?? '').trim() !== '')
    problems.push({
      line: 2,
      column: 1,
      message: 'leave the second line blank: it separates the subject from the body',
    });
  let breakingFooter = false;
  lines.forEach((line, index) => {
    if (/^BREAKING[ -]CHANGE: \S/.test(line)) breakingFooter = true;
    else if (/^breaking[ -]change\s*:/i.test(line))
      problems.push({
        line: index + 1,
        column: 1,
        message: 'write the footer as "BREAKING CHANGE: <what breaks>" (upper case, colon, space)',
      });
  });
  const first = destructive[0];
  if (first !== undefined && groups['bang'] !== '!' && !breakingFooter) {
    problems.push({
      line: 1,
      column: 1,
      message: `the staged ${first.file} runs ${first.statement}: mark the commit breaking ("${type || 'feat'}(migrations)!: …") or add a "BREAKING CHANGE: …" footer`,
    });
  }
  return problems.sort((a, b) => a.line - b.line || a.column - b.column);
}
