// Template `platform`: a Node API (TypeScript-checked, no build step), a Vite frontend, PostgreSQL with
// raw SQL migrations, one compose file, and a stagecraft.yml with dev, a local environment and a
// production environment to fill in. Encore.ts is the other backend Stagecraft knows; the template
// uses the plain Node API because its images must build without network access to a package registry.
import {
  apiFiles,
  apiServiceConfig,
  configHead,
  configTail,
  nodeDockerfile,
  readme,
  type ScaffoldFile,
  type TemplateInput,
  yamlName,
} from './common.js';

function config(name: string): string {
  return `${configHead(
    name,
    `# ${name}: a Node API, a Vite frontend and PostgreSQL. \`stagecraft dev\` runs them at https://app.localhost
# and https://api.localhost; \`stagecraft deploy -e local\` deploys to this machine's Docker engine; fill in
# environments.production, then \`stagecraft plan -e production\`.`,
  )}
frontend:
  provider: generic
  providers:
    generic:
      dev:
        command: [npx, vite, --host, 127.0.0.1, --port, "5173", --strictPort]
        workdir: ./web
        port: 5173
        ready_pattern: "Local:"
        shutdown: { signal: SIGTERM, timeout_ms: 5000 }

dev:
  domains:
    frontend: app.localhost
    backend: api.localhost

services:
${apiServiceConfig(name)}    secrets: [POSTGRES_PASSWORD]
  web:
    role: web
    port: 8080
    domains: ["\${APP_DOMAIN:-${name}.localhost}"]
  db:
    role: db
    mode: container

databases:
  main:
    connection_env: DATABASE_URL
    migrations:
      engine: raw
      path: ./migrations
      strategy: pre_deploy
      service: db # raw SQL migrations run psql, which the postgres image has

secrets:
  provider: envfile
  keys: [POSTGRES_PASSWORD]

${configTail(`    hosts: # your server: the database beside the app, which reaches it as db:5432
      web: [{ name: web1, address: 203.0.113.10 }]
      db: [web1] # on a server of its own, db must publish 5432 on a private network or the mesh (docs/mesh.md#services-across-hosts)
`)}`;
}

function compose(name: string): string {
  return `name: ${yamlName(name)}

x-node-build: &node-build
  args:
    NODE_IMAGE: \${NODE_IMAGE:-node:22-alpine}

services:
  api:
    build:
      <<: *node-build
      context: ./api
    environment:
      APP_VERSION: \${STAGECRAFT_VERSION:-dev}
      DATABASE_URL: postgres://app:\${POSTGRES_PASSWORD}@db:5432/app
    init: true
    stop_grace_period: 10s
    depends_on:
      db:
        condition: service_healthy

  web:
    build:
      <<: *node-build
      context: ./web
    environment:
      APP_VERSION: \${STAGECRAFT_VERSION:-dev}
    init: true
    stop_grace_period: 10s

  db:
    image: \${POSTGRES_IMAGE:-postgres:16-alpine}
    environment:
      POSTGRES_USER: app
      POSTGRES_DB: app
      POSTGRES_PASSWORD: \${POSTGRES_PASSWORD}
    volumes:
      - db-data:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "app", "-d", "app"]
      interval: 2s
      timeout: 2s
      retries: 15
      start_period: 5s

volumes:
  db-data:
`;
}

const WEB_SERVER = `// Serves the frontend in deployed environments: the files as they are (no build step, so the image builds
// offline), /health for the health check, a graceful drain on SIGTERM. \`stagecraft dev\` runs Vite instead.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';

const port = Number(process.env.PORT ?? 8080);
const root = new URL('.', import.meta.url).pathname;
const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
let stopping = false;

const server = createServer(async (request, response) => {
  if (stopping) response.setHeader('Connection', 'close');
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (path === '/health') {
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end('ok\\n');
    return;
  }
  if (path === '/version') {
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end(\`\${process.env.APP_VERSION ?? 'dev'}\\n\`);
    return;
  }
  const file = normalize(join(root, path === '/' ? 'index.html' : path));
  if (!file.startsWith(root)) {
    response.writeHead(403).end();
    return;
  }
  try {
    const body = await readFile(file);
    response.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    response.end(body);
  } catch {
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end('not found\\n');
  }
});
server.keepAliveTimeout = 5000;
server.listen(port, () => console.log(\`web listening on :\${port}\`));
process.on('SIGTERM', () => {
  stopping = true;
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5000).unref();
});
`;

function indexHtml(name: string): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${name}</title>
  </head>
  <body>
    <h1 id="title">${name}</h1>
    <p id="status">loading…</p>
    <script type="module" src="/src/main.js"></script>
  </body>
</html>
`;
}

const MAIN_JS = `// Asks the API how it is; in dev, Vite proxies /api to the backend (vite.config.js).
const status = document.querySelector('#status');
fetch('/api/status')
  .then((response) => response.json())
  .then((body) => {
    status.textContent = \`API \${body.version} is up, database \${body.database ? 'reachable' : 'unreachable'}\`;
  })
  .catch(() => {
    status.textContent = 'API unreachable';
  });
`;

const VITE_CONFIG = `// Under \`stagecraft dev\` the app is served at https://app.localhost through the dev proxy (HMR included);
// /api calls from the page go through Vite's proxy to the backend.
import { defineConfig } from 'vite';

export default defineConfig({
  server: {
    proxy: { '/api': process.env.API_ORIGIN ?? 'http://127.0.0.1:3000' },
  },
});
`;

function webPackageJson(name: string): string {
  return `${JSON.stringify(
    {
      name: `${name}-web`,
      private: true,
      type: 'module',
      scripts: { dev: 'vite', build: 'vite build', start: 'node serve.mjs' },
      devDependencies: { vite: '7.3.1' },
    },
    null,
    2,
  )}\n`;
}

const MIGRATION_1 = `-- Applied by \`stagecraft deploy\` before the new version serves (strategy pre_deploy), each file in
-- its own transaction; \`stagecraft migrate plan\` shows what is applied.
CREATE TABLE items (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
`;

/** The files of a new `platform` project; `.env` and `.env.local` get fresh random passwords. */
export function platformTemplate(input: TemplateInput): ScaffoldFile[] {
  const name = input.projectName;
  const devPassword = input.password();
  const localPassword = input.password();
  return [
    { path: 'stagecraft.yml', content: config(name) },
    { path: 'docker-compose.yml', content: compose(name) },
    ...apiFiles(name),
    { path: 'web/index.html', content: indexHtml(name) },
    { path: 'web/src/main.js', content: MAIN_JS },
    { path: 'web/vite.config.js', content: VITE_CONFIG },
    { path: 'web/serve.mjs', content: WEB_SERVER },
    { path: 'web/package.json', content: webPackageJson(name) },
    {
      path: 'web/Dockerfile',
      content: nodeDockerfile(['index.html', 'serve.mjs'], ['src'], 8080, ['node', 'serve.mjs']),
    },
    { path: 'web/.dockerignore', content: 'node_modules\n' },
    { path: 'migrations/001_create_items.sql', content: MIGRATION_1 },
    {
      path: '.env.example',
      content: `# Copy to .env (dev), .env.local or .env.production and set the values.
POSTGRES_PASSWORD=change-me
DATABASE_URL=postgres://app:change-me@db:5432/app
APP_DOMAIN=example.com
API_DOMAIN=api.example.com
`,
    },
    {
      path: '.env',
      content: `# Variables for \`stagecraft dev\` (not committed): the backend runs on this machine.
POSTGRES_PASSWORD=${devPassword}
DATABASE_URL=postgres://app:${devPassword}@127.0.0.1:5432/app
`,
    },
    {
      path: '.env.local',
      content: `# Variables for \`stagecraft deploy -e local\` (not committed).
POSTGRES_PASSWORD=${localPassword}
DATABASE_URL=postgres://app:${localPassword}@db:5432/app
`,
    },
    { path: 'README.md', content: readme(name, 'A Node API, a Vite frontend and PostgreSQL') },
  ];
}
