import { describe, expect, it } from 'vitest';
import { languageOf } from '../../src/context/xray/languages.js';
import { dependenciesOf, dockerfileFacts } from '../../src/context/xray/manifests.js';

const FILES: Record<string, string> = {
  'svc/requirements.txt': 'django==5.1.3\nrequests>=2.31  # http\n-r base.txt\ngunicorn\n',
  'go/go.mod':
    'module example.com/x\n\ngo 1.23\n\nrequire github.com/lib/pq v1.10.9\n\nrequire (\n\tgolang.org/x/sync v0.8.0 // indirect\n)\n',
  'go/go.sum': '',
  'rs/Cargo.toml':
    '[package]\nname = "x"\n\n[dependencies]\nserde = "1.0"\ntokio = { version = "1.41", features = ["full"] }\n\n[dev-dependencies]\ninsta = "1.40"\n',
  'rb/Gemfile': 'source "https://rubygems.org"\ngem "rails", "~> 7.1"\ngem "pg"\n',
  'py/pyproject.toml':
    '[project]\nname = "x"\ndependencies = [\n  "fastapi==0.115.4",\n  "uvicorn>=0.30",\n]\n',
  'py/uv.lock': '',
};
const read = (path: string) => FILES[path];
const exists = (path: string) => path in FILES;

describe('xray manifests', () => {
  it('reads dependencies with declared and pinned versions from each ecosystem', () => {
    const { managers, dependencies } = dependenciesOf(Object.keys(FILES), read, exists);
    expect(managers).toEqual([
      { name: 'pip', manifest: 'svc/requirements.txt', lockfile: null },
      { name: 'go', manifest: 'go/go.mod', lockfile: 'go/go.sum' },
      { name: 'cargo', manifest: 'rs/Cargo.toml', lockfile: null },
      { name: 'bundler', manifest: 'rb/Gemfile', lockfile: null },
      { name: 'uv', manifest: 'py/pyproject.toml', lockfile: 'py/uv.lock' },
    ]);
    const brief = dependencies.map(
      (d) => `${d.ecosystem} ${d.name} ${d.declared} ${d.version ?? '-'}${d.dev ? ' dev' : ''}`,
    );
    expect(brief).toEqual([
      'pypi django ==5.1.3 5.1.3',
      'pypi requests >=2.31 -',
      'pypi gunicorn * -',
      'go github.com/lib/pq v1.10.9 v1.10.9',
      'go golang.org/x/sync v0.8.0 v0.8.0',
      'cargo serde 1.0 -',
      'cargo tokio 1.41 -',
      'cargo insta 1.40 - dev',
      'rubygems rails ~> 7.1 -',
      'rubygems pg * -',
      'pypi fastapi ==0.115.4 0.115.4',
      'pypi uvicorn >=0.30 -',
    ]);
  });

  it('reads Dockerfile stages, exposed ports, the final health check and command', () => {
    expect(
      dockerfileFacts(
        'FROM node:22 AS build\nHEALTHCHECK CMD true\nRUN npm ci\nFROM build AS test\nFROM nginx:1.27 \nEXPOSE 80 443\nHEALTHCHECK NONE\nCMD ["nginx", \\\n  "-g", "daemon off;"]\n',
      ),
    ).toEqual({
      base_images: ['node:22', 'nginx:1.27'],
      expose: ['80', '443'],
      healthcheck: false,
      cmd: 'CMD ["nginx",    "-g", "daemon off;"]',
    });
  });

  it('names languages by extension and file name', () => {
    expect(
      [
        'a.ts',
        'b.mjs',
        'Dockerfile.prod',
        'api/Dockerfile',
        '.env.production',
        'x.sql',
        'logo.png',
        'Makefile',
      ].map(languageOf),
    ).toEqual([
      'TypeScript',
      'JavaScript',
      'Dockerfile',
      'Dockerfile',
      'dotenv',
      'SQL',
      undefined,
      'Makefile',
    ]);
  });
});
