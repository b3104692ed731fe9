// A stand-in `docker` for timing plan without compose (bench/plan.mjs): the first
// `docker compose … config --format json` runs the real docker and keeps what it printed, later ones
// print that copy; `config -q` (the rendered files' check) succeeds at once; anything else runs the
// real docker. Put its folder first on PATH, and point DOCKER_CONFIG at its `docker-config` folder,
// where it is also compose's CLI plugin (Stagecraft runs that binary directly when it finds it). Compose's answers are the same as the real one's for the
// project read; the check is skipped, so this measures Stagecraft's own part of a plan only.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Writes the stand-in into a fresh folder and returns the folder (to put first on PATH; DOCKER_CONFIG=<folder>/docker-config). */
export function writeComposeStub() {
  const dir = mkdtempSync(join(tmpdir(), 'stagecraft-bench-docker-'));
  const real = execFileSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).trim();
  const script = `#!/bin/sh
case " $* " in
  *" config --format json "*)
    if [ ! -f '${dir}/config.json' ]; then env -u DOCKER_CONFIG '${real}' "$@" > '${dir}/config.json' || exit $?; fi
    exec cat '${dir}/config.json' ;;
  *" config -q "*) exit 0 ;;
esac
exec env -u DOCKER_CONFIG '${real}' "$@"
`;
  writeFileSync(join(dir, 'docker'), script);
  chmodSync(join(dir, 'docker'), 0o755);
  mkdirSync(join(dir, 'docker-config', 'cli-plugins'), { recursive: true });
  writeFileSync(join(dir, 'docker-config', 'cli-plugins', 'docker-compose'), script);
  chmodSync(join(dir, 'docker-config', 'cli-plugins', 'docker-compose'), 0o755);
  return dir;
}
