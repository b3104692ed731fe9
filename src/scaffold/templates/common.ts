// Pieces every scaffold shares: the hook samples, the .gitignore block, the parts of stagecraft.yml every
// template writes, the Node API (server, Dockerfile, package files) and the README. Plain text with `{{...}}`-free substitutions done by the caller; `\${` is compose or
// shell interpolation kept as it is.
import { parse } from 'yaml';
import { HOOKS, type HookName } from '../../plan/deploy.js';

export interface ScaffoldFile {
  /** Relative to the project root, POSIX. */
  path: string;
  content: string;
  /** File mode; 0o644 unless said. */
  mode?: number;
}

/** What a template is given: the project name, and the source of the generated env files' passwords. */
export interface TemplateInput {
  projectName: string;
  /** Generates the passwords of the generated env files. */
  password: () => string;
}

/** Lines Stagecraft needs in .gitignore (state and env files out, hooks and the schema in). */
export const GITIGNORE_LINES = [
  '.stagecraft/*',
  '!.stagecraft/hooks/',
  '!.stagecraft/stagecraft.schema.json',
  '.env',
  '.env.*',
  '!.env.example',
];

const HOOK_PURPOSE: Record<HookName, string> = {
  'pre-build': 'before images are built (on this machine). Example: run the tests.',
  'pre-deploy': 'after the lock is taken, before migrations and the rollout. Example: check a feature flag.',
  'post-deploy': 'after the release is recorded. Example: notify a chat channel.',
};

const HOOK_EXAMPLE: Record<HookName, string> = {
  'pre-build': '# npm test --prefix api',
  'pre-deploy':
    '# [ "$STAGECRAFT_ENV" != production ] || git diff --quiet || { echo "uncommitted changes" >&2; exit 1; }',
  'post-deploy':
    '# curl -fsS -X POST -d "text=$STAGECRAFT_PROJECT $STAGECRAFT_VERSION is live on $STAGECRAFT_ENV" "$CHAT_WEBHOOK_URL"',
};

/**
 * `.stagecraft/hooks/<name>.sample` for every hook: commented examples, not executable, so nothing
 * runs until someone renames one (drops `.sample`) and makes it executable, as with git hooks.
 */
export function hookSamples(): ScaffoldFile[] {
  return HOOKS.map((name) => ({
    path: `.stagecraft/hooks/${name}.sample`,
    content: `#!/bin/sh
# Stagecraft ${name} hook: runs ${HOOK_PURPOSE[name]}
# To enable it: mv .stagecraft/hooks/${name}.sample .stagecraft/hooks/${name} && chmod +x .stagecraft/hooks/${name}
# A non-zero exit aborts the deploy${name === 'post-deploy' ? ' report (the release stays deployed)' : ''}.
# Variables: STAGECRAFT_HOOK STAGECRAFT_KIND (deploy|rollback) STAGECRAFT_PROJECT STAGECRAFT_ENV
#            STAGECRAFT_VERSION STAGECRAFT_RELEASE STAGECRAFT_HOSTS (comma-separated)
set -eu
${HOOK_EXAMPLE[name]}
`,
  }));
}

/** The API server: dependency-free Node, health check, graceful drain on SIGTERM (zero-downtime rollouts). */
export function apiServer(projectName: string): string {
  return `// @ts-check
// The ${projectName} API: a dependency-free Node HTTP server, type-checked by TypeScript (checkJs) without a
// build step, so the file that runs under \`stagecraft dev\` is the file in the image.
import { createServer } from 'node:http';
import { connect } from 'node:net';

const port = Number(process.env.PORT ?? 3000);
const version = process.env.APP_VERSION ?? 'dev';
let stopping = false;

/**
 * Whether the database accepts TCP connections (null when DATABASE_URL is unset).
 * @returns {Promise<boolean | null>}
 */
function databaseReachable() {
  const url = process.env.DATABASE_URL;
  if (!url) return Promise.resolve(null);
  const { hostname, port: databasePort } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(databasePort || 5432) });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

const server = createServer(async (request, response) => {
  // While draining, ask keep-alive clients (the gateway) to open new connections elsewhere.
  if (stopping) response.setHeader('Connection', 'close');
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (path === '/health') {
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end('ok\\n');
    return;
  }
  if (path === '/api/status' || path === '/') {
    const database = await databaseReachable();
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(\`\${JSON.stringify({ service: '${projectName}-api', version, database })}\\n\`);
    return;
  }
  response.writeHead(404, { 'content-type': 'text/plain' });
  response.end('not found\\n');
});

server.keepAliveTimeout = 5000;
server.listen(port, () => console.log(\`api \${version} listening on :\${port}\`));

/** @param {string} signal */
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.log(\`api \${version} received \${signal}, draining\`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
`;
}

/**
 * A Dockerfile for a dependency-free Node service: `files` copied into /app, each of `dirs` as a
 * folder of its own; the base image comes from NODE_IMAGE (a compose build arg).
 */
export function nodeDockerfile(files: string[], dirs: string[], port: number, command: string[]): string {
  return `ARG NODE_IMAGE=node:22-alpine
FROM \${NODE_IMAGE}
WORKDIR /app
COPY ${files.join(' ')} ./
${dirs.map((dir) => `COPY ${dir} ./${dir}\n`).join('')}ENV PORT=${port}
EXPOSE ${port}
# busybox wget (alpine and busybox images have it) answers in milliseconds; a \`node -e fetch()\` probe
# can take seconds to start on a busy host.
HEALTHCHECK --interval=1s --timeout=5s --start-period=5s --retries=3 \\
  CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:${port}/health"]
CMD ${JSON.stringify(command)}
`;
}

export const API_TSCONFIG = `{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "allowJs": true,
    "checkJs": true,
    "noEmit": true,
    "strict": true,
    "types": ["node"]
  },
  "include": ["src"]
}
`;

export function apiPackageJson(projectName: string): string {
  return `${JSON.stringify(
    {
      name: `${projectName}-api`,
      private: true,
      type: 'module',
      scripts: {
        dev: 'node --watch src/server.js',
        start: 'node src/server.js',
        typecheck: 'tsc -p .',
      },
      devDependencies: { '@types/node': '22.20.7', typescript: '5.9.3' },
    },
    null,
    2,
  )}\n`;
}

/** A random password for generated env files (hex: safe in URLs and compose files). */
export type PasswordSource = () => string;

/**
 * A project name as a YAML scalar that reads back as that string: `123`, `true`, `null`, `1e3` and
 * `0x1f` are quoted (YAML would read a number, a boolean or null), other names are written as they are.
 */
export function yamlName(name: string): string {
  return parse(name) === name ? name : JSON.stringify(name);
}

/**
 * The start of every template's stagecraft.yml: the schema line, `comment` (the project in a few lines,
 * each starting with `#`), the project and compose blocks and the generic backend that runs ./api.
 */
export function configHead(name: string, comment: string): string {
  return `# yaml-language-server: $schema=./.stagecraft/stagecraft.schema.json
${comment}
project:
  name: ${yamlName(name)}
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
`;
}

/** The `api` entry under `services:` (routed at api.<name>.localhost unless API_DOMAIN says otherwise). */
export function apiServiceConfig(name: string): string {
  return `  api:
    role: web
    port: 3000
    domains: ["\${API_DOMAIN:-api.${name}.localhost}"]
`;
}

/**
 * The end of every template's stagecraft.yml: the gateway, and the dev, local and production
 * environments; `hosts` is production's `hosts:` block (lines indented by four spaces).
 */
export function configTail(hosts: string): string {
  return `ingress:
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
${hosts}`;
}

/** The files of the Node API in ./api: server, package.json, tsconfig, Dockerfile, .dockerignore. */
export function apiFiles(name: string): ScaffoldFile[] {
  return [
    { path: 'api/src/server.js', content: apiServer(name) },
    { path: 'api/package.json', content: apiPackageJson(name) },
    { path: 'api/tsconfig.json', content: API_TSCONFIG },
    {
      path: 'api/Dockerfile',
      content: nodeDockerfile(['package.json'], ['src'], 3000, ['node', 'src/server.js']),
    },
    { path: 'api/.dockerignore', content: 'node_modules\n' },
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
