import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Most unit, CLI and integration tests wait on child processes, files and sockets: one worker more than
// the CPUs keeps them busy (on 2 CPUs vitest's default of CPUs − 1 took 204 s; 3 workers take 103 s).
// The three projects must share the number to run as one group. e2e stays one file at a time.
const maxWorkers = Math.max(3, availableParallelism() - 1);

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          maxWorkers,
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts'],
          // GitHub's workflow parser imports its JSON schema without an import attribute, which
          // Node refuses; inlined, vite loads it.
          server: { deps: { inline: ['@actions/workflow-parser'] } },
        },
      },
      {
        test: {
          name: 'cli',
          maxWorkers,
          include: ['test/cli/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          maxWorkers,
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/support/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          fileParallelism: false,
          sequence: { concurrent: false },
        },
      },
    ],
  },
});
