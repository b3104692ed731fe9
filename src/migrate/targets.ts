import type { MigrationsModel, MigrationTarget } from '../model/migrations.js';
import { didYouMean } from '../util/did-you-mean.js';
import { UserError } from '../util/errors.js';

// The targets themselves are resolved in model/migrations.ts (nothing past model/ reads the config).
export {
  DEFAULT_MIGRATION_TIMEOUT_MS,
  type MigrationSettings,
  type MigrationStrategy,
  type MigrationTarget,
  migrationSettings,
} from '../model/migrations.js';

/**
 * The databases `migrate` acts on: the one named by --database, else every database with a migrations
 * block, in name order.
 * @throws UserError for an unknown database, one without migrations, or when none has migrations.
 */
export function migrationTargets(model: MigrationsModel, requested?: string): MigrationTarget[] {
  const names = model.databases;
  if (requested !== undefined) {
    if (!names.includes(requested)) {
      const suggestion = didYouMean(requested, names);
      throw new UserError(
        `database "${requested}" not found in config${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; available: ${names.join(', ') || 'none'}`,
        { hint: 'pass --database with one of the names under `databases:` in stagecraft.yml' },
      );
    }
    const chosen = model.targets.filter((target) => target.database === requested);
    if (chosen.length === 0) {
      throw new UserError(`database "${requested}" has no migrations configured`, {
        hint: `add databases.${requested}.migrations with engine and path to stagecraft.yml`,
      });
    }
    return chosen;
  }
  if (model.targets.length === 0) {
    throw new UserError('no database has migrations configured', {
      hint: 'add databases.main with connection_env and migrations: { engine: raw, path: ./migrations } to stagecraft.yml',
    });
  }
  return [...model.targets];
}

/**
 * The databases a deploy migrates in a phase: the environment's strategy must be the phase's
 * (`manual` never runs in a deploy), in name order; none when migrations are disabled for the env.
 */
export function deployMigrationTargets(
  model: MigrationsModel,
  strategy: 'pre_deploy' | 'post_deploy',
): MigrationTarget[] {
  if (!model.enabled) return [];
  return model.targets.filter((entry) => entry.strategy === strategy);
}
