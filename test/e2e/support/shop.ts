import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type HarnessEnv, harnessSshYaml, projectEnv } from './harness.js';

const EXAMPLE = fileURLToPath(new URL('../../../examples/shop', import.meta.url));
const CLI = fileURLToPath(new URL('../../../bin/stagecraft.js', import.meta.url));

export interface ShopProject {
  root: string;
  env: Record<string, string>;
}

/**
 * A copy of examples/shop whose `production` environment deploys to the harness hosts (web on h1+h2,
 * db on h3) with images from the harness registry, and whose `local` environment targets the build engine.
 */
export function shopProject(
  harness: HarnessEnv,
  options: { hosts?: Record<string, string[]> } = {},
): ShopProject {
  const root = mkdtempSync(join(tmpdir(), 'stagecraft-shop-'));
  cpSync(EXAMPLE, root, {
    recursive: true,
    filter: (path) => !path.includes('node_modules') && !path.includes('/.stagecraft'),
  });
  const roles = options.hosts ?? { web: ['h1', 'h2'], db: ['h3'] };
  const address = (name: string) => harness.hosts.find((host) => host.name === name)!.address;
  const hostsYaml = Object.entries(roles)
    .map(
      ([role, names]) =>
        `      ${role}:\n${names.map((name) => `        - { name: ${name}, address: ${address(name)} }`).join('\n')}`,
    )
    .join('\n');
  const config = `project:
  name: shop
  registry: 127.0.0.1:5000/shop-e2e
compose:
  file: docker-compose.yml
services:
  api:
    role: web
    port: 3000
    domains: [api.shop.localhost]
    secrets: [POSTGRES_PASSWORD]
  web:
    role: web
    port: 8080
    domains: [shop.localhost, "*"]
  db:
    role: db
databases:
  main:
    connection_env: DATABASE_URL
    migrations:
      engine: raw
      path: ./migrations
      service: db
secrets:
  provider: envfile
  keys: [POSTGRES_PASSWORD]
ingress:
  image: 127.0.0.1:5000/stagecraft-test/caddy:2
  http_port: 8080
environments:
  local:
    driver: local
    env_file: .env.local
  production:
    driver: ssh
    env_file: .env.production
${harnessSshYaml(harness)}    hosts:
${hostsYaml}
    rollout:
      parallel_hosts: 3
      # At least what db's health check may take (start_period 5s + interval 2s + 15 × 4s = 67s):
      # shorter is a plan warning, and deploy.test expects a plan without warnings.
      health_timeout: 70s
`;
  writeFileSync(join(root, 'stagecraft.yml'), config);
  return {
    root,
    env: {
      ...projectEnv(harness, root),
      NODE_IMAGE: '127.0.0.1:5000/stagecraft-test/node:20',
      POSTGRES_IMAGE: '127.0.0.1:5000/stagecraft-test/postgres:15',
    },
  };
}

export function removeProject(project: ShopProject): void {
  rmSync(project.root, { recursive: true, force: true });
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI in the project as a user would. `onStart` gets the child (to signal it). */
export function stagecraftIn(
  project: ShopProject,
  args: string[],
  options: {
    env?: Record<string, string>;
    timeoutMs?: number;
    onStart?: (child: ReturnType<typeof spawn>) => void;
  } = {},
): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: project.root,
      env: { ...project.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 240_000);
    options.onStart?.(child);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
