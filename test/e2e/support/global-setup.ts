import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const HARNESS = fileURLToPath(new URL('../../harness/cli.mjs', import.meta.url));

/**
 * Before the e2e tests: the harness must run. As root on Linux it is started (idempotent, ~25 s cold,
 * ~2 s warm); elsewhere the tests fail with what to do. It is left running for the next run; `.ci/run`
 * takes it down.
 */
export default function setup(): void {
  if (spawnSync(process.execPath, [HARNESS, 'env'], { stdio: 'ignore' }).status === 0) return;
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    throw new Error(
      'The e2e tests need the Stagecraft harness (Docker engines, SSH hosts, a registry in network namespaces), which needs root on Linux.\n' +
        'Run `sudo npm run harness -- up` first, or only the unit tests with `npm run test:unit`.',
    );
  }
  const up = spawnSync(process.execPath, [HARNESS, 'up'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (up.status !== 0)
    throw new Error(`could not start the e2e harness (exit ${up.status}); see the messages above`);
}
