import type { DestructiveChange, StagedFile } from './types.js';

/**
 * Statements that break the release still serving during a rollout: SQL `DROP TABLE/COLUMN/…`,
 * `RENAME COLUMN/TO`, `ALTER … TYPE`, and the same calls of knex/sequelize/TypeORM-style migration
 * builders (`dropTable`, `dropColumn`, `renameColumn`, `renameTable`).
 */
const PATTERNS: RegExp[] = [
  /\bDROP\s+(TABLE|COLUMN|SCHEMA|VIEW|MATERIALIZED\s+VIEW|TYPE|DATABASE)\b(\s+IF\s+EXISTS)?\s*[`"[]?[\w.]*/i,
  /\bRENAME\s+(COLUMN\s+[`"[]?\w+[`"\]]?\s+)?TO\s+[`"[]?\w+/i,
  /\bRENAME\s+COLUMN\b\s*[`"[]?\w*/i,
  /\bALTER\s+COLUMN\s+[`"[]?\w+[`"\]]?\s+(SET\s+DATA\s+)?TYPE\b/i,
  /\b(dropTable|dropTableIfExists|dropColumn|dropColumns|renameColumn|renameTable|removeColumn)\s*\(\s*['"`]?[\w.]*['"`]?/,
];

/** Strips `-- …` comments so that a commented-out DROP does not count. */
function code(line: string): string {
  const dash = line.indexOf('--');
  const slash = line.indexOf('//');
  const cut = [dash, slash].filter((index) => index !== -1);
  return cut.length === 0 ? line : line.slice(0, Math.min(...cut));
}

/** The destructive statements among the lines a change adds to migration files, in file order. */
export function destructiveChanges(files: readonly StagedFile[]): DestructiveChange[] {
  const changes: DestructiveChange[] = [];
  for (const file of files) {
    for (const line of file.added) {
      const text = code(line);
      for (const pattern of PATTERNS) {
        const match = pattern.exec(text);
        if (match !== null) {
          changes.push({ file: file.path, statement: match[0].replace(/\s+/g, ' ').trim() });
          break;
        }
      }
    }
  }
  return changes;
}
