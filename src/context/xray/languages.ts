import { posix } from 'node:path';

/** Language by file extension (lower case, with the dot); the common ones of web and backend projects. */
const BY_EXTENSION: Record<string, string> = {
  '.ts': 'TypeScript',
  '.tsx': 'TypeScript',
  '.mts': 'TypeScript',
  '.cts': 'TypeScript',
  '.js': 'JavaScript',
  '.jsx': 'JavaScript',
  '.mjs': 'JavaScript',
  '.cjs': 'JavaScript',
  '.vue': 'Vue',
  '.svelte': 'Svelte',
  '.astro': 'Astro',
  '.py': 'Python',
  '.rb': 'Ruby',
  '.go': 'Go',
  '.rs': 'Rust',
  '.java': 'Java',
  '.kt': 'Kotlin',
  '.kts': 'Kotlin',
  '.scala': 'Scala',
  '.cs': 'C#',
  '.fs': 'F#',
  '.php': 'PHP',
  '.ex': 'Elixir',
  '.exs': 'Elixir',
  '.erl': 'Erlang',
  '.swift': 'Swift',
  '.c': 'C',
  '.h': 'C',
  '.cc': 'C++',
  '.cpp': 'C++',
  '.hpp': 'C++',
  '.lua': 'Lua',
  '.dart': 'Dart',
  '.zig': 'Zig',
  '.sql': 'SQL',
  '.prisma': 'Prisma',
  '.graphql': 'GraphQL',
  '.proto': 'Protocol Buffers',
  '.sh': 'Shell',
  '.bash': 'Shell',
  '.zsh': 'Shell',
  '.ps1': 'PowerShell',
  '.html': 'HTML',
  '.htm': 'HTML',
  '.css': 'CSS',
  '.scss': 'SCSS',
  '.sass': 'SCSS',
  '.less': 'Less',
  '.md': 'Markdown',
  '.mdx': 'Markdown',
  '.rst': 'reStructuredText',
  '.json': 'JSON',
  '.jsonc': 'JSON',
  '.yml': 'YAML',
  '.yaml': 'YAML',
  '.toml': 'TOML',
  '.xml': 'XML',
  '.tf': 'HCL',
  '.hcl': 'HCL',
  '.ini': 'INI',
  '.env': 'dotenv',
};

/** Language by exact file name. */
const BY_NAME: Record<string, string> = {
  Dockerfile: 'Dockerfile',
  Containerfile: 'Dockerfile',
  Makefile: 'Makefile',
  Procfile: 'Procfile',
  Gemfile: 'Ruby',
  Rakefile: 'Ruby',
  Justfile: 'Just',
  Caddyfile: 'Caddyfile',
};

/** The language of a path, or undefined for files that are not source, config or docs (images, lock data…). */
export function languageOf(path: string): string | undefined {
  const base = posix.basename(path);
  if (BY_NAME[base] !== undefined) return BY_NAME[base];
  if (/^(Dockerfile|Containerfile)\./.test(base) || base.endsWith('.dockerfile')) return 'Dockerfile';
  if (/^\.env(\..+)?$/.test(base)) return 'dotenv';
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? undefined : BY_EXTENSION[base.slice(dot).toLowerCase()];
}
