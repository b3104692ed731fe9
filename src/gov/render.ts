import type * as Sarif from 'sarif';
import type { Colors } from '../util/output.js';
import type { GovReport } from './check.js';
import { RULES } from './rules/index.js';
import type { Finding, Severity } from './types.js';

const DOCS_URL = 'https://github.com/stagecraft-dev/stagecraft/blob/main/docs/gov.md';

/** Counts of findings per severity. */
export function summarize(findings: readonly Finding[]): { errors: number; warnings: number; notes: number } {
  const count = (severity: Severity) => findings.filter((finding) => finding.severity === severity).length;
  return { errors: count('error'), warnings: count('warning'), notes: count('note') };
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/**
 * Text for people: one line per finding (`file:line:column severity rule message`), its fix below,
 * then a summary line. `displayPath` turns a project-relative path into what the user clicks.
 */
export function renderText(report: GovReport, colors: Colors, displayPath: (file: string) => string): string {
  const lines: string[] = [];
  for (const finding of report.findings) {
    const severity =
      finding.severity === 'error'
        ? colors.red('error')
        : finding.severity === 'warning'
          ? colors.yellow('warning')
          : colors.cyan('note');
    lines.push(
      `${displayPath(finding.file)}:${finding.line}:${finding.column} ${severity} ${colors.bold(finding.rule)}: ${finding.message}`,
    );
    lines.push(`  ${colors.dim('fix:')} ${finding.fix}`);
  }
  const { errors, warnings, notes } = summarize(report.findings);
  const disabled = report.disabled.length === 0 ? '' : `; disabled: ${report.disabled.join(', ')}`;
  const counts =
    report.findings.length === 0
      ? 'no findings'
      : [
          plural(errors, 'error'),
          plural(warnings, 'warning'),
          ...(notes > 0 ? [plural(notes, 'note')] : []),
        ].join(', ');
  lines.push(`${counts} (${plural(report.rules.length, 'rule')} checked${disabled})`);
  return `${lines.join('\n')}\n`;
}

/** The `--json` document: findings with project-relative paths, counts, the rules that ran. */
export function renderJson(report: GovReport, displayPath: (file: string) => string): unknown {
  return {
    findings: report.findings.map((finding) => ({ ...finding, file: displayPath(finding.file) })),
    summary: summarize(report.findings),
    rules: report.rules.map((rule) => rule.id),
    disabled: report.disabled,
  };
}

/**
 * A SARIF 2.1.0 log (OASIS) for code-scanning tools: the rule catalogue in `tool.driver.rules`, one
 * result per finding located at `uriPrefix + file` relative to `%SRCROOT%` (the repository root).
 */
export function renderSarif(report: GovReport, options: { version: string; uriPrefix: string }): Sarif.Log {
  const rules: Sarif.ReportingDescriptor[] = RULES.map((rule) => ({
    id: rule.id,
    name: rule.id
      .split('-')
      .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
      .join(''),
    shortDescription: { text: rule.title },
    fullDescription: { text: rule.why },
    help: { text: `Fix: ${rule.fix}` },
    helpUri: `${DOCS_URL}#${rule.id}`,
    defaultConfiguration: { level: rule.severity, enabled: !report.disabled.includes(rule.id) },
  }));
  const results: Sarif.Result[] = report.findings.map((finding) => ({
    ruleId: finding.rule,
    ruleIndex: RULES.findIndex((rule) => rule.id === finding.rule),
    level: finding.severity,
    message: { text: `${finding.message}. Fix: ${finding.fix}` },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: `${options.uriPrefix}${finding.file}`, uriBaseId: '%SRCROOT%' },
          region: { startLine: finding.line, startColumn: finding.column },
        },
      },
    ],
  }));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'stagecraft',
            semanticVersion: options.version,
            informationUri: DOCS_URL,
            rules,
          },
        },
        columnKind: 'utf16CodeUnits',
        results,
      },
    ],
  };
}
