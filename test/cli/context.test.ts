import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stagecraft } from '../support/cli.js';
import { expectGolden } from '../support/golden.js';

const ACME = fileURLToPath(new URL('../fixtures/projects/acme/', import.meta.url));
const GOLDEN = fileURLToPath(new URL('../fixtures/golden/', import.meta.url));
const PLANTED = [
  'planted-prod-pg-secret-51c7',
  'sk_live_planted_9f8e7d6c',
  'planted-staging-pg-secret-2a1b',
  'sk_test_planted_1a2b3c',
  'planted-dsn-key-77aa',
];

/** A fresh copy of the acme fixture project (outside this repository, so git and caches are its own). */
function acme(): string {
  const root = mkdtempSync(join(tmpdir(), 'stagecraft-acme-'));
  cpSync(ACME, root, { recursive: true });
  return root;
}

function contextFiles(root: string): Record<string, string> {
  const dir = join(root, '.ai-context');
  return Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((name) => [name, readFileSync(join(dir, name), 'utf8')]),
  );
}

describe('stagecraft context build', () => {
  it('writes .ai-context/ matching the golden files, the same bytes in two copies', () => {
    const first = acme();
    const result = stagecraft(['context', 'build'], { cwd: first });
    expect(result.stderr).toBe('');
    expect(result).toMatchObject({
      code: 0,
      stdout:
        'wrote .ai-context/.gitignore, .ai-context/README.md, .ai-context/manifest.json, .ai-context/project.json, .ai-context/project.md\n',
    });
    const files = contextFiles(first);
    expect(Object.keys(files)).toEqual([
      '.gitignore',
      'README.md',
      'manifest.json',
      'project.json',
      'project.md',
    ]);
    expect(files['.gitignore']).toBe('*\n');
    expectGolden(join(GOLDEN, 'context', 'project.md'), files['project.md'] ?? '');
    expectGolden(join(GOLDEN, 'context', 'project.json.golden'), files['project.json'] ?? '');
    expectGolden(join(GOLDEN, 'context', 'manifest.json.golden'), files['manifest.json'] ?? '');

    const second = acme();
    expect(stagecraft(['context', 'build'], { cwd: second }).code).toBe(0);
    expect(contextFiles(second)).toEqual(files);
  });

  it('never writes a secret planted in the env files or inline in stagecraft.yml', () => {
    const root = acme();
    const env =
      readFileSync(join(root, '.env.production'), 'utf8') +
      readFileSync(join(root, 'stagecraft.yml'), 'utf8');
    for (const secret of PLANTED.filter((value) => !value.includes('staging') && !value.includes('test')))
      expect(env).toContain(secret);
    expect(stagecraft(['context', 'build'], { cwd: root }).code).toBe(0);
    const text = Object.values(contextFiles(root)).join('\n');
    for (const secret of PLANTED) expect(text).not.toContain(secret);
    expect(text).toContain('SENTRY_DSN');
    expect(text).toContain('STRIPE_API_KEY');
  });

  it('a rebuild without changes writes nothing; a changed migration rewrites what describes it', () => {
    const root = acme();
    expect(stagecraft(['context', 'build'], { cwd: root }).code).toBe(0);
    const dir = join(root, '.ai-context');
    const old = new Date('2020-01-01T00:00:00Z');
    for (const name of readdirSync(dir)) utimesSync(join(dir, name), old, old);
    const again = stagecraft(['context', 'build'], { cwd: root });
    expect(again).toMatchObject({ code: 0, stdout: '.ai-context/ is up to date (5 files unchanged)\n' });
    for (const name of readdirSync(dir))
      expect(statSync(join(dir, name)).mtime.getTime()).toBe(old.getTime());

    writeFileSync(
      join(root, 'migrations', '003_add_orders_status.sql'),
      'ALTER TABLE orders ADD COLUMN status text;\n',
    );
    const changed = stagecraft(['context', 'build', '--json'], { cwd: root });
    expect(JSON.parse(changed.stdout)).toEqual({
      dir: '.ai-context',
      written: ['manifest.json', 'project.json', 'project.md'],
      unchanged: ['.gitignore', 'README.md'],
    });
    expect(readFileSync(join(dir, 'project.md'), 'utf8')).toContain('| 003_add_orders_status.sql |');
  });

  it('is ignored by git without touching the project .gitignore', () => {
    const root = acme();
    spawnSync('git', ['init', '-q'], { cwd: root });
    expect(stagecraft(['context', 'build'], { cwd: root }).code).toBe(0);
    const status = spawnSync('git', ['status', '--porcelain', '--untracked-files=all'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(status.stdout).not.toContain('.ai-context');
    expect(status.stdout).toContain('stagecraft.yml');
  });
});

describe('stagecraft context xray', () => {
  it('prints the golden summary and JSON for the fixture project', () => {
    const root = acme();
    const text = stagecraft(['context', 'xray'], { cwd: root });
    expect(text.code).toBe(0);
    expectGolden(join(GOLDEN, 'xray', 'acme.txt'), text.stdout);
    const json = stagecraft(['context', 'xray', '--json'], { cwd: root });
    expectGolden(join(GOLDEN, 'xray', 'acme.json.golden'), json.stdout);
    const report = JSON.parse(json.stdout);
    expect(report.dependencies).toContainEqual({
      ecosystem: 'npm',
      manifest: 'api/package.json',
      name: 'express',
      declared: '^4.19.0',
      version: '4.19.2',
      dev: false,
    });
    for (const secret of PLANTED) expect(json.stdout + text.stdout).not.toContain(secret);
  });

  it('caches per file in .xraycache/ by path, size and mtime; a changed file is read again', () => {
    const root = acme();
    const first = stagecraft(['context', 'xray'], { cwd: root });
    expect(first.stderr).toBe(
      'scanned . (every file but build and dependency folders); .xraycache/: 0 files from the cache, 14 read (key: path, size, mtime)\n',
    );
    const second = stagecraft(['context', 'xray'], { cwd: root });
    expect(second.stderr).toContain('.xraycache/: 14 files from the cache, 0 read');
    expect(second.stdout).toBe(first.stdout);
    const before = JSON.parse(stagecraft(['context', 'xray', '--json'], { cwd: root }).stdout);
    writeFileSync(
      join(root, 'api', 'worker.js'),
      "setInterval(() => console.log('tick'), 60_000);\n// two lines now\n",
    );
    const third = stagecraft(['context', 'xray'], { cwd: root });
    expect(third.stderr).toContain('.xraycache/: 13 files from the cache, 1 read');
    const after = JSON.parse(stagecraft(['context', 'xray', '--json'], { cwd: root }).stdout);
    expect(after.lines).toBe(before.lines + 1);
    expect(readFileSync(join(root, '.xraycache', '.gitignore'), 'utf8')).toBe('*\n');
  });

  it('in a git repository, skips what git ignores', () => {
    const root = acme();
    writeFileSync(join(root, '.gitignore'), '.env.*\n');
    spawnSync('git', ['init', '-q'], { cwd: root });
    const report = JSON.parse(stagecraft(['context', 'xray', '--json'], { cwd: root }).stdout);
    const all = JSON.parse(stagecraft(['context', 'xray', '--json'], { cwd: acme() }).stdout);
    expect(
      report.languages.find((entry: { language: string }) => entry.language === 'dotenv'),
    ).toBeUndefined();
    expect(all.languages.find((entry: { language: string }) => entry.language === 'dotenv')).toEqual({
      language: 'dotenv',
      files: 2,
      lines: 5,
    });
  });
});
