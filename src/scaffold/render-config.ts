import { stringify } from 'yaml';
import type { DetectedComposeService, DetectedPackage, Detection } from './detect.js';

export const SCHEMA_PATH = '.stagecraft/stagecraft.schema.json';

function devProcess(pkg: DetectedPackage, port: number, readyPattern?: string): Record<string, unknown> {
  return {
    command: ['npm', 'run', 'dev'],
    ...(pkg.dir === '.' ? {} : { workdir: `./${pkg.dir}` }),
    port,
    ...(readyPattern === undefined ? {} : { ready_pattern: readyPattern }),
  };
}

/**
 * The backend's dev section: its dev server listens where the compose service built from its folder
 * does (that service's port), else on 4000.
 */
function backendSection(
  pkg: DetectedPackage | undefined,
  services: readonly DetectedComposeService[],
): Record<string, unknown> | undefined {
  if (pkg === undefined) return undefined;
  const workdir = pkg.dir === '.' ? {} : { workdir: `./${pkg.dir}` };
  if (pkg.kind === 'encore') {
    return {
      provider: 'encore-ts',
      providers: { 'encore-ts': { dev: { listen: '0.0.0.0:4000', ...workdir } } },
    };
  }
  const folder = pkg.dir === '.' ? '.' : `./${pkg.dir}`;
  const build = pkg.hasDockerfile ? { build: { context: folder, dockerfile: `${folder}/Dockerfile` } } : {};
  const built = services.find((service) => service.buildContext === pkg.dir);
  const port = built?.port ?? built?.unroutedPort ?? 4000;
  return { provider: 'generic', providers: { generic: { dev: devProcess(pkg, port), ...build } } };
}

function frontendSection(pkg: DetectedPackage | undefined): Record<string, unknown> | undefined {
  if (pkg === undefined) return undefined;
  const command = {
    ...devProcess(pkg, 5173, 'Local:'),
    command: ['npm', 'run', 'dev', '--', '--host', '127.0.0.1', '--port', '5173'],
  };
  return { provider: 'generic', providers: { generic: { dev: command } } };
}

/** The stagecraft.yml text for a detected project; it always validates against the schema. */
export function renderConfig(detection: Detection, projectName: string): string {
  const frontend = detection.packages.find((pkg) => pkg.kind === 'vite');
  const backend =
    detection.packages.find((pkg) => pkg.kind === 'encore') ??
    detection.packages.find((pkg) => pkg.kind === 'node' && pkg.hasDevScript && pkg !== frontend);
  const postgres = detection.services.find((service) =>
    /postgres|postgis|timescale/i.test(service.image ?? ''),
  );

  const config: Record<string, unknown> = {
    project: { name: projectName },
    ...(detection.composeFile === undefined ? {} : { compose: { file: detection.composeFile } }),
  };
  const backendConfig = backendSection(backend, detection.services);
  if (backendConfig) config['backend'] = backendConfig;
  const frontendConfig = frontendSection(frontend);
  if (frontendConfig) config['frontend'] = frontendConfig;
  if (detection.services.length > 0) {
    config['services'] = Object.fromEntries(
      detection.services.map((service) => [
        service.name,
        {
          role: service.role,
          ...(service.role === 'app' && service.port !== undefined ? { port: service.port } : {}),
          ...(service.healthPath === undefined ? {} : { health: { path: service.healthPath } }),
        },
      ]),
    );
  }
  if (postgres !== undefined) {
    config['databases'] = {
      main: {
        connection_env: 'DATABASE_URL',
        ...(detection.migrations === undefined
          ? {}
          : {
              migrations: {
                engine: detection.migrations.engine,
                path: detection.migrations.path,
                strategy: 'pre_deploy',
              },
            }),
      },
    };
  }
  config['environments'] = {
    dev: { driver: 'local', env_file: '.env' },
    // `stagecraft gov` (and the pull-request workflow of `ci init`) requires it of production.
    production: { driver: 'local', env_file: '.env.production', require_confirmation: true },
  };

  const body = stringify(config, { lineWidth: 0, flowCollectionPadding: false });
  return `# yaml-language-server: $schema=./${SCHEMA_PATH}
# Stagecraft configuration: see \`stagecraft schema\` and docs/config.md for every key.
${body}
# To deploy to servers over SSH, give an environment hosts by role and a registry, for example:
#
# project:
#   registry: ghcr.io/acme/${projectName}
# environments:
#   production:
#     driver: ssh
#     hosts:
#       app: [web-1, web-2]
#       db: [db-1]
`;
}
