import { compareStrings } from '../../compose/canonical.js';
import type { Rule, RuleHit } from '../types.js';

/** `./db/migrations/` → `db/migrations`. */
function normalise(path: string): string {
  return path.replace(/^\.\//, '').replace(/\/+$/, '');
}

export const migrationStrategy: Rule = {
  id: 'migration-strategy',
  severity: 'warning',
  title: 'Every database with migrations says when they run',
  why: 'Without `strategy`, migrations run pre_deploy: while the old release still serves. That is right only for backward-compatible changes (add a nullable column); dropping or renaming needs post_deploy or manual. Writing the strategy down makes the choice a reviewed decision.',
  fix: 'add `strategy: pre_deploy` (backward-compatible changes, before the rollout), `post_deploy` (after it) or `manual` (only `stagecraft migrate`)',
  check: (project) => {
    const databases = (project.configRaw['databases'] ?? {}) as Record<
      string,
      { migrations?: Record<string, unknown> }
    >;
    return Object.keys(databases)
      .sort(compareStrings)
      .filter((name) => {
        const migrations = databases[name]?.migrations;
        return migrations !== undefined && migrations !== null && migrations['strategy'] === undefined;
      })
      .map(
        (name): RuleHit => ({
          source: 'config',
          path: ['databases', name, 'migrations'],
          key: true,
          message: `migrations of database "${name}" have no strategy (they run pre_deploy, before the new release serves)`,
          fix: `add strategy: pre_deploy | post_deploy | manual under databases.${name}.migrations`,
        }),
      );
  },
};

export const migrationsUnconfigured: Rule = {
  id: 'migrations-unconfigured',
  severity: 'warning',
  title: 'Migration folders are wired to a database',
  why: 'A migrations folder that no `databases.<name>.migrations.path` names is never applied by `deploy`: the new code reaches production before its schema.',
  fix: 'add a database: `databases: { main: { connection_env: DATABASE_URL, migrations: { engine: raw, path: ./migrations, strategy: pre_deploy } } }`',
  check: (project) => {
    const databases = Object.values(project.config.databases ?? {});
    const configured = new Set(
      databases.flatMap((database) =>
        database.migrations === undefined ? [] : [normalise(database.migrations.path)],
      ),
    );
    return project.migrationFolders
      .filter(
        (folder) =>
          ![...configured].some(
            (path) => folder === path || folder.startsWith(`${path}/`) || path.startsWith(`${folder}/`),
          ),
      )
      .map((folder) => ({
        source: 'config' as const,
        path: project.configRaw['databases'] === undefined ? [] : ['databases'],
        key: project.configRaw['databases'] !== undefined,
        message: `${folder}/ holds migrations that no database in ${project.configFile} applies`,
        fix: `add databases.<name>.migrations with path: ./${folder} (engine, strategy)`,
      }));
  },
};
