import { compareStrings } from '../compose/canonical.js';
import { formatIssue, formatPath } from '../config/issues.js';
import { didYouMean } from '../util/did-you-mean.js';
import { UserError } from '../util/errors.js';
import type { GovInputs } from './inputs.js';
import { RULES } from './rules/index.js';
import type { Finding, Rule } from './types.js';

/** What one `gov` run found, and which rules ran. */
export interface GovReport {
  findings: Finding[];
  /** Rules that ran, in catalogue order. */
  rules: Rule[];
  /** Rule ids skipped through `gov.disable`, sorted. */
  disabled: string[];
}

/**
 * Throws a UserError naming `file:line:column` of every `gov.disable` entry that is not a rule id
 * (with a did-you-mean), so a typo cannot silently keep a rule on.
 */
function checkDisabled(inputs: GovInputs, disabled: readonly string[]): void {
  const ids = RULES.map((rule) => rule.id);
  const problems = disabled.flatMap((id, index) => {
    if (ids.includes(id)) return [];
    const { line, column } = inputs.sources.config.position(['gov', 'disable', index]);
    const suggestion = didYouMean(id, ids);
    return [
      formatIssue({
        file: inputs.project.configFile,
        line,
        column,
        path: formatPath(['gov', 'disable', index]),
        message: `unknown rule "${id}"${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}`,
      }),
    ];
  });
  if (problems.length > 0) {
    throw new UserError(
      `gov.disable names ${problems.length === 1 ? 'a rule that does not exist' : 'rules that do not exist'}`,
      {
        details: problems,
        hint: '`stagecraft gov --list` prints every rule id',
      },
    );
  }
}

/**
 * Runs every rule not disabled in `gov.disable` over the project; findings sorted by file, line,
 * column and rule, duplicates (the same place and message from several environments) merged.
 * Throws UserError for an unknown id in gov.disable.
 */
export function runGov(inputs: GovInputs): GovReport {
  const disabled = [...new Set(inputs.project.config.gov?.disable ?? [])];
  checkDisabled(inputs, inputs.project.config.gov?.disable ?? []);
  const rules = RULES.filter((rule) => !disabled.includes(rule.id));
  const seen = new Set<string>();
  const findings: Finding[] = [];
  for (const rule of rules) {
    for (const hit of rule.check(inputs.project)) {
      const source = hit.source === 'config' ? inputs.sources.config : inputs.sources.compose;
      if (source === undefined) continue;
      const { line, column } = source.position(hit.path, { key: hit.key === true });
      const finding: Finding = {
        rule: rule.id,
        severity: rule.severity,
        file: source.file,
        line,
        column,
        message: hit.message,
        fix: hit.fix ?? rule.fix,
      };
      const key = JSON.stringify([finding.rule, finding.file, line, column, finding.message]);
      if (seen.has(key)) continue;
      seen.add(key);
      findings.push(finding);
    }
  }
  findings.sort(
    (a, b) =>
      compareStrings(a.file, b.file) ||
      a.line - b.line ||
      a.column - b.column ||
      compareStrings(a.rule, b.rule) ||
      compareStrings(a.message, b.message),
  );
  return { findings, rules, disabled: disabled.sort(compareStrings) };
}
