// Template `node-api`: one Node API service, its compose file and a stagecraft.yml with dev, a local
// environment (this machine's Docker engine) and a production environment to fill in.
import { API_TSCONFIG, apiPackageJson, apiServer, nodeDockerfile, type ScaffoldFile } from './common.js';

export interface TemplateInput {
  projectName: string;
  /** Generates the passwords of the generated env files. */
  password: () => string;
}

function config(name: string): string {
  return `# yaml-language-server: $schema=./.stagecraft/stagecraft.schema.json
# ${name}: a Node API. \`stagecraft dev\` runs it at https://api.localhost; \`stagecraft deploy -e local\`
# deploys it to this machine's Docker engine; fill in environments.production, then \`stagecraft plan -e production\`.
project:
  name: ${name}
  registry: ghcr.io/your-org/${name} # where images are pushed: set yours before deploying to production

compose:
  file: docker-compose.yml

backend:
  provider: generic
  providers:
    generic:
      dev:
        command: [node, --watch, src/server.js]
        workdir: ./api
        port: 3000
        ready_pattern: listening on
        env:
          PORT: "3000"
      build:
        service: api
        context: ./api

dev:
  domains:
    backend: api.localhost

services:
  api:
    role: web
    port: 3000
    domains: ["\${API_DOMAIN:-api.${name}.localhost}"]

ingress:
  provider: caddy
  image: \${INGRESS_IMAGE:-caddy:2}
  http_port: 80 # the gateway on each host (and on this machine for -e local)

environments:
  dev:
    driver: local
    env_file: .env
  local:
    driver: local
    env_file: .env.local
  production:
    driver: ssh
    env_file: .env.production
    require_confirmation: true # CI passes --yes; a person types yes
    ssh:
      user: deploy
    hosts:
      web: [{ name: web1, address: 203.0.113.10 }] # your server(s)
`;
}

const COMPOSE = `services:
  api:
    build:
      context: ./api
      args:
        NODE_IMAGE: \${NODE_IMAGE:-node:22-alpine}
    environment:
      APP_VERSION: \${STAGECRAFT_VERSION:-dev}
    init: true
    stop_grace_period: 10s
`;

/** The files of a new `node-api` project. */
export function nodeApiTemplate(input: TemplateInput): ScaffoldFile[] {
  const name = input.projectName;
  return [
    { path: 'stagecraft.yml', content: config(name) },
    { path: 'docker-compose.yml', content: `name: ${name}\n\n${COMPOSE}` },
    { path: 'api/src/server.js', content: apiServer(name) },
    { path: 'api/package.json', content: apiPackageJson(name) },
    { path: 'api/tsconfig.json', content: API_TSCONFIG },
    {
      path: 'api/Dockerfile',
      content: nodeDockerfile(['package.json'], ['src'], 3000, ['node', 'src/server.js']),
    },
    { path: 'api/.dockerignore', content: 'node_modules\n' },
    {
      path: '.env.example',
      content: `# Copy to .env (dev), .env.local or .env.production and set the values.\nAPI_DOMAIN=api.example.com\n`,
    },
    { path: '.env', content: '# Variables for `stagecraft dev` (not committed).\n' },
    { path: '.env.local', content: '# Variables for `stagecraft deploy -e local` (not committed).\n' },
    { path: 'README.md', content: readme(name, 'A Node API') },
  ];
}

/** The README every template writes: what is where, and the commands in order. */
export function readme(name: string, what: string): string {
  return `# ${name}

${what}, deployed with [Stagecraft](https://www.npmjs.com/package/stagecraft): one compose file from this
laptop to servers.

    stagecraft dev                     # the stack here, over HTTPS (Ctrl+C stops all of it)
    stagecraft deploy -e local         # a release on this machine's Docker engine, zero downtime
    stagecraft plan -e production      # what a deploy would do (fill in environments.production first)
    stagecraft ci init                 # GitHub Actions: plan on pull requests, deploy on pushes

\`stagecraft.yml\` describes the environments; \`docker-compose.yml\` the services; hooks live in
\`.stagecraft/hooks/\` (rename a \`.sample\` to enable it).
`;
}
