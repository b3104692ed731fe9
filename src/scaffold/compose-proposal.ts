// `stagecraft attach` in a repository without a compose file: a docker-compose.yml proposed from its
// Dockerfiles, one service per Dockerfile, built from its folder. Pure: Dockerfile texts in, YAML out.
import { posix } from 'node:path';
import { stringify } from 'yaml';
import { hasHealthcheck, sanitizeProjectName } from './detect.js';

export interface DockerfileInfo {
  /** Path of the Dockerfile relative to the project root, POSIX (e.g. `api/Dockerfile`). */
  path: string;
  content: string;
}

export interface ProposedService {
  name: string;
  context: string;
  /** The first port the Dockerfile EXPOSEs, if any. */
  port: number | undefined;
  /** Whether the Dockerfile has a HEALTHCHECK (other than NONE). */
  hasHealthcheck: boolean;
}

/** The first `EXPOSE` port of a Dockerfile (`EXPOSE 3000`, `EXPOSE 3000/tcp 9000`); undefined if none. */
export function exposedPort(dockerfile: string): number | undefined {
  for (const line of dockerfile.split('\n')) {
    const match = /^\s*EXPOSE\s+(\d+)/i.exec(line);
    if (match !== null) return Number(match[1]);
  }
  return undefined;
}

/** One service per Dockerfile: named after its folder (`app` at the root), unique. */
export function proposeServices(dockerfiles: DockerfileInfo[], projectName: string): ProposedService[] {
  const used = new Set<string>();
  return dockerfiles.map((file) => {
    const dir = posix.dirname(file.path);
    const base =
      dir === '.' ? sanitizeProjectName(projectName) || 'app' : sanitizeProjectName(posix.basename(dir));
    let name = base;
    for (let index = 2; used.has(name); index++) name = `${base}-${index}`;
    used.add(name);
    return {
      name,
      context: dir === '.' ? '.' : `./${dir}`,
      port: exposedPort(file.content),
      hasHealthcheck: hasHealthcheck(file.content),
    };
  });
}

/** The compose file text for the proposed services, with a header saying how it came to be. */
export function renderProposedCompose(services: ProposedService[], projectName: string): string {
  const document = {
    name: projectName,
    services: Object.fromEntries(
      services.map((service) => [
        service.name,
        {
          build: { context: service.context },
          // Documents the container port (publishes nothing); `attach` reads it back from here.
          ...(service.port === undefined ? {} : { expose: [String(service.port)] }),
          init: true,
          restart: 'unless-stopped',
          stop_grace_period: '10s',
        },
      ]),
    ),
  };
  const ports = services
    .filter((service) => service.port !== undefined)
    .map((service) => `${service.name} listens on ${service.port}`);
  return `# Proposed by \`stagecraft attach\` from the Dockerfiles of this repository: review it.
# Services are reached through the Stagecraft gateway (services.<name>.port in stagecraft.yml), so no
# ports are published here${ports.length > 0 ? ` (${ports.join(', ')})` : ''}. Add databases and
# other infrastructure as services with an image.
${stringify(document, { lineWidth: 0 })}`;
}
