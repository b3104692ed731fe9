import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { stagecraft } from '../support/cli.js';
import { projectWith } from '../support/config.js';

function write(root: string, files: Record<string, string>): string {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(root, name, '..'), { recursive: true });
    writeFileSync(join(root, name), content);
  }
  return root;
}

function initAndLoad(root: string, extra: string[] = []) {
  const init = stagecraft(['init', '--non-interactive', ...extra], { cwd: root });
  expect(init.stderr).not.toContain('error');
  expect(init.code).toBe(0);
  const text = readFileSync(join(root, 'stagecraft.yml'), 'utf8');
  const config = stagecraft(['config', '--json'], { cwd: root });
  expect(config.stderr).toBe('');
  expect(config.code).toBe(0);
  return { init, text, config: JSON.parse(config.stdout).config };
}

describe('stagecraft init', () => {
  it('writes a loading config for an empty folder', () => {
    const root = projectWith({});
    const { text, config, init } = initAndLoad(root, ['--project-name', 'empty-app']);
    expect(init.stdout).toBe('✓ Created Stagecraft config at stagecraft.yml\n');
    expect(text.startsWith('# yaml-language-server: $schema=./.stagecraft/stagecraft.schema.json\n')).toBe(
      true,
    );
    expect(config.project).toEqual({ name: 'empty-app' });
    expect(Object.keys(config.environments)).toEqual(['dev', 'production']);
    expect(existsSync(join(root, '.stagecraft/stagecraft.schema.json'))).toBe(true);
    expect(existsSync(join(root, '.stagecraft/hooks'))).toBe(true);
    expect(readFileSync(join(root, '.gitignore'), 'utf8')).toContain('.stagecraft/*\n!.stagecraft/hooks/\n');
  });

  it('detects compose services, Vite, Encore and raw migrations', () => {
    const root = write(projectWith({}), {
      'docker-compose.yml':
        'services:\n  db:\n    image: postgres:16\n  cache:\n    image: redis:7-alpine\n  api:\n    build: ./backend\n  web:\n    build: ./frontend\n',
      'backend/package.json': JSON.stringify({ dependencies: { 'encore.dev': '1.0.0' } }),
      'frontend/package.json': JSON.stringify({
        scripts: { dev: 'vite' },
        devDependencies: { vite: '7.0.0' },
      }),
      'migrations/001_init.sql': 'CREATE TABLE t (id int);\n',
    });
    const { config } = initAndLoad(root, ['--project-name', 'platform']);
    expect(config.compose).toEqual({ file: 'docker-compose.yml' });
    expect(config.services).toEqual({
      api: { role: 'app' },
      cache: { role: 'db' },
      db: { role: 'db' },
      web: { role: 'app' },
    });
    expect(config.backend.provider).toBe('encore-ts');
    expect(config.backend.providers['encore-ts'].dev).toEqual({
      listen: '0.0.0.0:4000',
      workdir: './backend',
    });
    expect(config.frontend.providers.generic.dev).toMatchObject({
      workdir: './frontend',
      port: 5173,
      ready_pattern: 'Local:',
    });
    expect(config.databases.main).toEqual({
      connection_env: 'DATABASE_URL',
      migrations: {
        engine: 'raw',
        path: './migrations',
        strategy: 'pre_deploy',
        table: 'stagecraft_migrations',
      },
    });
  });

  it('detects a generic Node backend with a Dockerfile and compose.yaml', () => {
    const root = write(projectWith({}), {
      'compose.yaml': 'services:\n  app:\n    build: .\n',
      'package.json': JSON.stringify({ scripts: { dev: 'node --watch index.js' } }),
      Dockerfile: 'FROM node:20\n',
    });
    const { config } = initAndLoad(root, ['--project-name', 'api']);
    expect(config.compose.file).toBe('compose.yaml');
    expect(config.backend.providers.generic).toEqual({
      dev: { command: ['npm', 'run', 'dev'], port: 4000 },
      build: { context: '.', dockerfile: './Dockerfile' },
    });
    expect(config.databases).toBeUndefined();
  });

  it('takes a built service port from its Dockerfile EXPOSE, for the route and the backend dev server', () => {
    const root = write(projectWith({}), {
      'docker-compose.yml': 'services:\n  api:\n    build: ./api\n  web:\n    build:\n      context: ./web\n',
      'api/package.json': JSON.stringify({ scripts: { dev: 'node --watch server.mjs' } }),
      'api/Dockerfile':
        'FROM node:20\nENV PORT=3000\nEXPOSE 3000\nHEALTHCHECK CMD wget -qO- http://127.0.0.1:3000/health\n',
      'web/Dockerfile': 'FROM node:20\nEXPOSE 8080\nHEALTHCHECK CMD wget -qO- http://127.0.0.1:8080/health\n',
    });
    const { config } = initAndLoad(root, ['--project-name', 'shop']);
    expect(config.services.api).toEqual({ role: 'app', port: 3000 });
    expect(config.services.web).toEqual({ role: 'app', port: 8080 });
    expect(config.backend.providers.generic.dev).toEqual({
      command: ['npm', 'run', 'dev'],
      workdir: './api',
      port: 3000,
    });
  });

  it('detects prisma migrations next to a postgres service', () => {
    const root = write(projectWith({}), {
      'docker-compose.yaml': 'services:\n  postgres:\n    image: postgis/postgis:16\n',
      'prisma/schema.prisma': 'datasource db { provider = "postgresql" }\n',
    });
    const { config } = initAndLoad(root, ['--project-name', 'geo']);
    expect(config.databases.main.migrations.engine).toBe('prisma');
    expect(config.services.postgres.role).toBe('db');
  });

  it('refuses to overwrite without --force, and overwrites with it', () => {
    const root = projectWith({
      'stagecraft.yml': 'project:\n  name: keep\nenvironments:\n  dev:\n    driver: local\n',
    });
    const refused = stagecraft(['init', '--non-interactive'], { cwd: root });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('a Stagecraft config already exists at');
    expect(refused.stderr).toContain('--force');
    expect(readFileSync(join(root, 'stagecraft.yml'), 'utf8')).toContain('name: keep');
    expect(
      stagecraft(['init', '--non-interactive', '--force', '--project-name', 'fresh'], { cwd: root }).code,
    ).toBe(0);
    expect(parse(readFileSync(join(root, 'stagecraft.yml'), 'utf8')).project.name).toBe('fresh');
  });

  it('prints what it would write with --dry-run and writes nothing', () => {
    const root = projectWith({});
    const result = stagecraft(['init', '--non-interactive', '--dry-run', '--project-name', 'dry'], {
      cwd: root,
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Would write stagecraft.yml:\n\n# yaml-language-server');
    expect(result.stdout).toContain('project:\n  name: dry\n');
    expect(existsSync(join(root, 'stagecraft.yml'))).toBe(false);
    expect(existsSync(join(root, '.stagecraft'))).toBe(false);
  });

  it('rejects an invalid project name', () => {
    const result = stagecraft(['init', '--non-interactive', '--project-name', 'My App'], {
      cwd: projectWith({}),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('invalid project name "My App"');
    expect(result.stderr).toContain('hint: pass --project-name my-app');
  });

  it('keeps existing .gitignore lines and adds only missing ones', () => {
    const root = projectWith({ '.gitignore': 'node_modules\n.env' });
    initAndLoad(root, ['--project-name', 'x']);
    const text = readFileSync(join(root, '.gitignore'), 'utf8');
    expect(text.startsWith('node_modules\n.env\n# Stagecraft\n')).toBe(true);
    expect(text.match(/^\.env$/gm)).toHaveLength(1);
  });
});
