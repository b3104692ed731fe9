// Which Stagecraft this is: version, kind of build, commit and runtime. The build script
// (scripts/build.mjs, scripts/build-sea.mjs) defines the three constants; running from source
// (vitest) leaves them undefined.
import { VERSION } from '../version.js';

declare const __STAGECRAFT_BUILD__: string;
declare const __STAGECRAFT_COMMIT__: string;

/** How this copy of Stagecraft was built and is installed. */
export type BuildKind = 'npm' | 'sea' | 'source';

export interface BuildInfo {
  /** Semantic version of the package, e.g. 0.1.0. */
  version: string;
  /** npm: the bundled package (bin/stagecraft.js); sea: the one-file executable; source: tests. */
  build: BuildKind;
  /** Short git commit the build was made from, with "-dirty" for uncommitted changes; "unknown" outside git. */
  commit: string;
  /** The Node.js runtime, e.g. v24.11.0 (for `sea`, the one inside the executable). */
  node: string;
  /** process.platform-process.arch, e.g. linux-x64. */
  platform: string;
}

const REPOSITORY = 'https://github.com/stagecraft-dev/stagecraft';

/** The facts about this build; constant for the life of the process. */
export function buildInfo(): BuildInfo {
  const build = typeof __STAGECRAFT_BUILD__ === 'string' ? __STAGECRAFT_BUILD__ : 'source';
  return {
    version: VERSION,
    build: build === 'npm' || build === 'sea' ? build : 'source',
    commit: typeof __STAGECRAFT_COMMIT__ === 'string' ? __STAGECRAFT_COMMIT__ : 'unknown',
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

/**
 * The command a user runs to get the newest Stagecraft, for the kind of build they have:
 * npm → `npm install -g stagecraft@latest`; sea → download the newest executable; source → pull and build.
 */
export function upgradeCommand(build: BuildKind = buildInfo().build): string {
  switch (build) {
    case 'npm':
      return 'npm install -g stagecraft@latest (or run it as `npx stagecraft@latest`)';
    case 'sea':
      return `curl -fsSLo stagecraft ${REPOSITORY}/releases/latest/download/stagecraft-linux-x64 && chmod +x stagecraft`;
    case 'source':
      return 'git pull && npm ci && npm run build';
  }
}

/**
 * Compares two versions "MAJOR.MINOR[.PATCH][-PRERELEASE]" numerically; a pre-release sorts before
 * its release (0.2.0-dev < 0.2.0). Returns -1, 0 or 1. Throws on a string that is not such a version.
 */
export function compareVersions(a: string, b: string): number {
  const [coreA, preA] = splitVersion(a);
  const [coreB, preB] = splitVersion(b);
  for (let i = 0; i < 3; i++) {
    const diff = (coreA[i] ?? 0) - (coreB[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  if (preA === preB) return 0;
  if (preA === undefined) return 1;
  if (preB === undefined) return -1;
  return preA < preB ? -1 : 1;
}

/** MAJOR.MINOR or MAJOR.MINOR.PATCH, optionally with -PRERELEASE. */
export const VERSION_PATTERN = /^(\d+)\.(\d+)(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?$/;

function splitVersion(version: string): [number[], string | undefined] {
  const match = VERSION_PATTERN.exec(version);
  if (match === null) throw new Error(`not a version: ${version}`);
  return [[Number(match[1]), Number(match[2]), Number(match[3] ?? 0)], match[4]];
}
