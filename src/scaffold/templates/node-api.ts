// Template `node-api`: one Node API service, its compose file and a stagecraft.yml with dev, a local
// environment (this machine's Docker engine) and a production environment to fill in.
import {
  apiFiles,
  apiServiceConfig,
  configHead,
  configTail,
  readme,
  type ScaffoldFile,
  type TemplateInput,
  yamlName,
} from './common.js';

function config(name: string): string {
  return `${configHead(
    name,
    `# ${name}: a Node API. \`stagecraft dev\` runs it at https://api.localhost; \`stagecraft deploy -e local\`
# deploys it to this machine's Docker engine; fill in environments.production, then \`stagecraft plan -e production\`.`,
  )}
dev:
  domains:
    backend: api.localhost

services:
${apiServiceConfig(name)}
${configTail('    hosts:\n      web: [{ name: web1, address: 203.0.113.10 }] # your server(s)\n')}`;
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
    { path: 'docker-compose.yml', content: `name: ${yamlName(name)}\n\n${COMPOSE}` },
    ...apiFiles(name),
    {
      path: '.env.example',
      content: `# Copy to .env (dev), .env.local or .env.production and set the values.\nAPI_DOMAIN=api.example.com\n`,
    },
    { path: '.env', content: '# Variables for `stagecraft dev` (not committed).\n' },
    { path: '.env.local', content: '# Variables for `stagecraft deploy -e local` (not committed).\n' },
    { path: 'README.md', content: readme(name, 'A Node API') },
  ];
}
