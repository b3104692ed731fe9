import type { PathSegment } from '../../config/issues.js';
import { deployedServices, interpolateCompose, parseImage } from '../compose-facts.js';
import type { GovProject, Rule, RuleHit, SourceName } from '../types.js';

/** An image the project runs, where it is written, and what it is in each environment in scope. */
interface ImageUse {
  source: SourceName;
  path: PathSegment[];
  /** Who runs it, for messages: `service "db"` or `the ingress`. */
  owner: string;
  resolved: string[];
}

/** Images pulled (not built): compose services without `build`, and `ingress.image`. */
function pulledImages(project: GovProject): ImageUse[] {
  const uses: ImageUse[] = [];
  const resolve = (text: string): string[] => {
    const values = project.environments.map((env) => interpolateCompose(text, project.variables(env)));
    return [...new Set(values.filter((value): value is string => value !== undefined && value !== ''))];
  };
  for (const [name, service] of deployedServices(project)) {
    if (service['build'] !== undefined || typeof service['image'] !== 'string') continue;
    uses.push({
      source: 'compose',
      path: ['services', name, 'image'],
      owner: `service "${name}"`,
      resolved: resolve(service['image']),
    });
  }
  const ingress = project.configRaw['ingress'] as { image?: unknown } | undefined;
  if (typeof ingress?.image === 'string') {
    uses.push({
      source: 'config',
      path: ['ingress', 'image'],
      owner: 'the ingress',
      resolved: resolve(ingress.image),
    });
  }
  return uses;
}

/** A tag that names a major version only (`16`, `16-alpine`, `v2`) or no version at all (`alpine`, `stable`). */
export function isFloatingTag(tag: string): boolean {
  return /^v?\d+([-_][A-Za-z0-9._-]+)?$/.test(tag) || /^[A-Za-z_-]+$/.test(tag);
}

function hits(
  project: GovProject,
  test: (image: string) => boolean,
  describe: (use: ImageUse, image: string) => RuleHit,
): RuleHit[] {
  const found: RuleHit[] = [];
  for (const use of pulledImages(project)) {
    for (const image of use.resolved) if (test(image)) found.push(describe(use, image));
  }
  return found;
}

function isLatest(image: string): boolean {
  const reference = parseImage(image);
  return reference.digest === undefined && (reference.tag === undefined || reference.tag === 'latest');
}

export const imageLatest: Rule = {
  id: 'image-latest',
  severity: 'error',
  title: 'Images are pinned to a version, never `:latest` or no tag',
  why: "A `:latest` (or untagged) image changes whenever its publisher pushes: two hosts of one release can run different code, a rollback brings back today's image rather than the one that ran, and nothing records which version was deployed.",
  fix: 'pin a version tag (postgres:16.4-alpine) or a digest (postgres@sha256:…)',
  check: (project) =>
    hits(project, isLatest, (use, image) => ({
      source: use.source,
      path: use.path,
      message: `${use.owner} runs ${image}, which moves with every push of its publisher`,
      fix: `pin a version: ${parseImage(image).repository}:<version> or ${parseImage(image).repository}@sha256:<digest>`,
    })),
};

export const imageFloatingTag: Rule = {
  id: 'image-floating-tag',
  severity: 'warning',
  title: 'Image tags name at least a minor version (or a digest)',
  why: 'A major-only or named tag (`postgres:16`, `node:20-alpine`, `redis:alpine`) is re-pushed with every patch release: a deploy or a new host silently pulls a different image than the one tested.',
  fix: 'pin major.minor (postgres:16.4-alpine) or add a digest (postgres:16-alpine@sha256:…)',
  check: (project) =>
    hits(
      project,
      (image) => {
        const reference = parseImage(image);
        return (
          reference.digest === undefined &&
          reference.tag !== undefined &&
          reference.tag !== 'latest' &&
          isFloatingTag(reference.tag)
        );
      },
      (use, image) => ({
        source: use.source,
        path: use.path,
        message: `${use.owner} runs ${image}: the tag ${parseImage(image).tag} is re-pushed with each new release`,
        fix: `pin a full version or a digest: ${image}@sha256:<digest> (docker buildx imagetools inspect ${image} prints it)`,
      }),
    ),
};
