import { afterEach, describe, expect, it } from 'vitest';
import { projectHostCompose } from '../../src/compose/project.js';
import type { ComposeProject } from '../../src/compose/types.js';
import { Output } from '../../src/util/output.js';
import {
  clearSecretValuesForTests,
  looksSecretName,
  redact,
  redactDeep,
  registerSecretValue,
  Secret,
} from '../../src/util/secret.js';
import { quoteArgv } from '../../src/util/shell-quote.js';

afterEach(() => clearSecretValuesForTests());

describe('the redaction net', () => {
  it('scrubs a value in every encoding it is printed in', () => {
    const value = `pa"ss w'ord$1\\x`;
    registerSecretValue(value);
    expect(redact(`raw ${value} end`)).toBe('raw [redacted] end');
    expect(redact(JSON.stringify({ v: value }))).toBe('{"v":"[redacted]"}');
    expect(redact(quoteArgv(['echo', value]))).toBe('echo [redacted]');
    expect(redact(`postgres://u:${encodeURIComponent(value)}@db/x`)).toBe('postgres://u:[redacted]@db/x');
  });

  it('scrubs a non-ASCII value as Go prints it in compose errors, and as ASCII-only JSON', () => {
    registerSecretValue('Grüezi-S3cret-2024');
    expect(redact('invalid duration "Gr\\xc3\\xbcezi-S3cret-2024"')).toBe('invalid duration "[redacted]"');
    expect(redact('{"v":"Gr\\u00fcezi-S3cret-2024"}')).toBe('{"v":"[redacted]"}');
  });

  it('scrubs a field of a value that a tool quotes alone, but not plain words, numbers or addresses', () => {
    registerSecretValue('127.0.0.1:Hunter2SecretPart:80');
    registerSecretValue('postgres://shop:s3cretPw99@db.example.test:5432/shop');
    expect(redact('Invalid hostPort: Hunter2SecretPart')).toBe('Invalid hostPort: [redacted]');
    expect(redact('password s3cretPw99 rejected')).toBe('password [redacted] rejected');
    expect(redact('127.0.0.1 db.example.test postgres 5432')).toBe('127.0.0.1 db.example.test postgres 5432');
  });

  it('names secret variables by convention: any *_KEY but the usual public ones, *_PASS, *_PWD', () => {
    const names = [
      'STRIPE_KEY',
      'AWS_SECRET_ACCESS_KEY',
      'SIGNING_KEY',
      'KEY',
      'DB_PASS',
      'DB_PWD',
      'GPG_PASSPHRASE',
    ];
    expect(names.filter(looksSecretName)).toEqual(names);
    const plain = [
      'PUBLIC_KEY',
      'STRIPE_PUBLISHABLE_KEY',
      'CACHE_KEY',
      'MONKEY',
      'PWD',
      'OLDPWD',
      'CACHE_BYPASS',
      'KEY_ID',
    ];
    expect(plain.filter(looksSecretName)).toEqual([]);
  });

  it('scrubs a multi-line value as a whole, in JSON, and line by line', () => {
    const key =
      '-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END KEY-----';
    registerSecretValue(key);
    expect(redact(`key:\n${key}\n`)).toBe('key:\n[redacted]\n');
    expect(redact(JSON.stringify(key))).toBe('"[redacted]"');
    expect(redact('line 2 alone: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC')).toBe('line 2 alone: [redacted]');
  });

  it('scrubs short values too, as whole words only; 1 or 2 characters are no secret', () => {
    registerSecretValue('x9z');
    registerSecretValue('abcd');
    registerSecretValue('1');
    registerSecretValue('42');
    expect(redact('PASSWORD=x9z and box9z and abcdef')).toBe(
      'PASSWORD=[redacted] and box9z and [redacted]ef',
    );
    expect(redact('replicas: 1, port: 42')).toBe('replicas: 1, port: 42');
  });

  it('a JSON document keeps its numbers and stays valid with a short secret registered', () => {
    registerSecretValue('777');
    const printed: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => printed.push(chunk) > 0) as typeof process.stdout.write;
    try {
      new Output({ color: false, quiet: false, verbose: false, json: true }).json({
        replicas: 777,
        token: 'Bearer 777',
      });
    } finally {
      process.stdout.write = write;
    }
    expect(JSON.parse(printed.join(''))).toEqual({ replicas: 777, token: 'Bearer [redacted]' });
  });

  it('scrubs deep JSON values and keys, and a Secret prints redacted', () => {
    registerSecretValue('tok_ABCDEF123456');
    expect(redactDeep({ a: ['Bearer tok_ABCDEF123456'], tok_ABCDEF123456: 1 })).toEqual({
      a: ['Bearer [redacted]'],
      '[redacted]': 1,
    });
    expect(JSON.stringify({ s: new Secret('zzzz-secret') })).toBe('{"s":"[redacted]"}');
    expect(redact('x (resolved at deploy)')).toBe('x (resolved at deploy)');
    expect(String(Secret.placeholder('(resolved at deploy)'))).toBe('[redacted]');
  });
});

describe('the spec hash', () => {
  const compose: ComposeProject = {
    name: 'shop',
    services: { db: { image: 'postgres:16', environment: { POSTGRES_PASSWORD: 'S3cr3tPassw0rd' } } },
  };
  const hash = (password: string, specHashKey?: string) =>
    projectHostCompose({
      compose: {
        ...compose,
        services: { db: { image: 'postgres:16', environment: { POSTGRES_PASSWORD: password } } },
      },
      composeProjectName: 'shop-staging',
      services: ['db'],
      images: {},
      secretValues: [password],
      secretNames: ['POSTGRES_PASSWORD'],
      remoteServices: {},
      releaseLabels: {},
      stagecraftServices: {},
      ...(specHashKey === undefined ? {} : { specHashKey }),
    }).specHashes['db'];

  it('follows a secret change only through the keyed digest', () => {
    const key = 'a'.repeat(64);
    expect(hash('S3cr3tPassw0rd', key)).not.toBe(hash('other-password', key));
    expect(hash('S3cr3tPassw0rd', key)).not.toBe(hash('S3cr3tPassw0rd', 'b'.repeat(64)));
    // Without the key (a plan), the hash covers no secret value at all.
    expect(hash('S3cr3tPassw0rd')).toBe(hash('other-password'));
  });
});
