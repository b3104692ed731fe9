import type { MigrationEngineEntry } from '../../config/catalog.js';

/** Built-in migration engines: raw SQL run by Stagecraft, or the tool the project already uses. */
export const migrationEngines: MigrationEngineEntry[] = [
  { id: 'raw', description: 'SQL files sorted by name, tracked in a table.', requiresCommand: false },
  {
    id: 'drizzle',
    description: 'drizzle-kit migrate',
    defaultCommand: ['npx', 'drizzle-kit', 'migrate'],
    requiresCommand: false,
  },
  {
    id: 'prisma',
    description: 'prisma migrate deploy',
    defaultCommand: ['npx', 'prisma', 'migrate', 'deploy'],
    requiresCommand: false,
  },
  {
    id: 'knex',
    description: 'knex migrate:latest',
    defaultCommand: ['npx', 'knex', 'migrate:latest'],
    requiresCommand: false,
  },
  { id: 'command', description: 'Any command (argv) that applies migrations.', requiresCommand: true },
];
