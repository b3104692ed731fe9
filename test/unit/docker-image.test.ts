import { describe, expect, it } from 'vitest';
import {
  buildArgs,
  buildCacheRef,
  imageExistsArgs,
  inspectImageIdsArgs,
  inspectRepoDigestArgs,
  isLoopbackRegistry,
  isManifestMissing,
  manifestDigestArgs,
  manifestInspectArgs,
  parseImageIds,
  parseManifestDigest,
  pickRepoDigest,
  pullArgs,
  pushArgs,
  repositoryOf,
  sameImage,
  tagArgs,
} from '../../src/docker/image.js';

const line = (argv: string[]) => argv.join(' ');
const ref = '127.0.0.1:5000/shop/shop-api:v1';

describe('image argv', () => {
  it('build with only a tag and a context', () => {
    expect(line(buildArgs({ tags: [ref], context: 'api' }))).toBe(`docker build -t ${ref} api`);
  });

  it('build with every option; build args and labels sorted', () => {
    expect(
      line(
        buildArgs({
          tags: [ref, '127.0.0.1:5000/shop/shop-api:latest'],
          context: '/src/api',
          dockerfile: '/src/api/Dockerfile.prod',
          buildArgs: { NODE_IMAGE: 'node:20', A: 'x y' },
          target: 'runtime',
          labels: { 'stagecraft.version': 'v1', 'org.opencontainers.image.revision': 'abc' },
          platform: 'linux/amd64',
          pull: true,
          noCache: true,
          iidfile: '/tmp/iid',
        }),
      ),
    ).toBe(
      `docker build -t ${ref} -t 127.0.0.1:5000/shop/shop-api:latest -f /src/api/Dockerfile.prod --build-arg A=x y --build-arg NODE_IMAGE=node:20 --target runtime --label org.opencontainers.image.revision=abc --label stagecraft.version=v1 --platform linux/amd64 --pull --no-cache --iidfile /tmp/iid /src/api`,
    );
  });

  it('keeps a build-arg value with spaces as one argv element', () => {
    expect(buildArgs({ tags: ['x'], context: '.', buildArgs: { A: 'x y' } })).toEqual([
      'docker',
      'build',
      '-t',
      'x',
      '--build-arg',
      'A=x y',
      '.',
    ]);
  });

  it('push, pull, tag', () => {
    expect(line(pushArgs(ref))).toBe(`docker push ${ref}`);
    expect(line(pullArgs(ref))).toBe(`docker pull --quiet ${ref}`);
    expect(line(pullArgs(ref, { quiet: false }))).toBe(`docker pull ${ref}`);
    expect(line(tagArgs('shop-api:dev', ref))).toBe(`docker tag shop-api:dev ${ref}`);
  });

  it('registry and local existence checks', () => {
    // A loopback registry speaks plain HTTP: --insecure by default; a real registry keeps TLS verification.
    expect(line(manifestInspectArgs(ref))).toBe(`docker manifest inspect --insecure ${ref}`);
    expect(line(manifestInspectArgs(ref, { insecure: false }))).toBe(`docker manifest inspect ${ref}`);
    expect(line(manifestInspectArgs('ghcr.io/acme/api:v1'))).toBe(
      'docker manifest inspect ghcr.io/acme/api:v1',
    );
    expect(line(manifestInspectArgs('ghcr.io/acme/api:v1', { insecure: true }))).toBe(
      'docker manifest inspect --insecure ghcr.io/acme/api:v1',
    );
    expect(line(manifestDigestArgs(ref))).toBe(`docker manifest inspect -v --insecure ${ref}`);
    expect(line(manifestDigestArgs('ghcr.io/acme/api:v1'))).toBe(
      'docker manifest inspect -v ghcr.io/acme/api:v1',
    );
    expect(line(imageExistsArgs(ref))).toBe(`docker image inspect --format {{.Id}} ${ref}`);
    expect(line(inspectRepoDigestArgs(ref))).toBe(
      `docker image inspect --format {{json .RepoDigests}} ${ref}`,
    );
  });

  it('isLoopbackRegistry', () => {
    expect(isLoopbackRegistry('127.0.0.1:5000/shop/api:v1')).toBe(true);
    expect(isLoopbackRegistry('127.1.2.3/x')).toBe(true);
    expect(isLoopbackRegistry('localhost:5000/x:1')).toBe(true);
    expect(isLoopbackRegistry('localhost/x')).toBe(true);
    expect(isLoopbackRegistry('[::1]:5000/x:1')).toBe(true);
    expect(isLoopbackRegistry('ghcr.io/acme/api:v1')).toBe(false);
    expect(isLoopbackRegistry('localhost')).toBe(false);
    expect(isLoopbackRegistry('postgres:16')).toBe(false);
    expect(isLoopbackRegistry('library/postgres:16')).toBe(false);
    expect(isLoopbackRegistry('127.0.0.1.example.com/x')).toBe(false);
  });

  it('manifest output: missing vs unreachable, and the digest', () => {
    expect(isManifestMissing(`no such manifest: ${ref}\n`)).toBe(true);
    expect(
      isManifestMissing(
        'failed to configure transport: error pinging v2 registry: Get "https://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused',
      ),
    ).toBe(false);
    // What `docker manifest inspect -v --insecure` printed for the harness registry.
    const verbose = JSON.stringify({
      Ref: ref,
      Descriptor: {
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        digest: 'sha256:19ac04aff4e5e8014f43a11efe303adee5529fe3ae56c58f5b7d6d05e5b15784',
        size: 527,
      },
    });
    expect(parseManifestDigest(verbose, ref)).toBe(
      '127.0.0.1:5000/shop/shop-api@sha256:19ac04aff4e5e8014f43a11efe303adee5529fe3ae56c58f5b7d6d05e5b15784',
    );
    expect(parseManifestDigest('[{"Descriptor":{"digest":"sha256:1"}}]', ref)).toBeUndefined();
    expect(parseManifestDigest('nope', ref)).toBeUndefined();
  });

  it('repositoryOf strips tag and digest but not a registry port', () => {
    expect(repositoryOf(ref)).toBe('127.0.0.1:5000/shop/shop-api');
    expect(repositoryOf('127.0.0.1:5000/shop/shop-api')).toBe('127.0.0.1:5000/shop/shop-api');
    expect(repositoryOf('postgres:16@sha256:abc')).toBe('postgres');
    expect(repositoryOf('ghcr.io/acme/api@sha256:abc')).toBe('ghcr.io/acme/api');
  });

  it('pickRepoDigest picks the digest of the same repository', () => {
    const out = '["other.io/x/shop-api@sha256:111","127.0.0.1:5000/shop/shop-api@sha256:222"]\n';
    expect(pickRepoDigest(out, ref)).toBe('127.0.0.1:5000/shop/shop-api@sha256:222');
    expect(pickRepoDigest('[]', ref)).toBeUndefined();
    expect(pickRepoDigest('null', ref)).toBeUndefined();
    expect(pickRepoDigest('', ref)).toBeUndefined();
    expect(pickRepoDigest('not json', ref)).toBeUndefined();
  });
});

describe('buildCacheRef', () => {
  it('is the repository with tag buildcache, whatever the tag, digest or registry port', () => {
    expect(buildCacheRef('127.0.0.1:5000/shop/shop-api:v1')).toBe('127.0.0.1:5000/shop/shop-api:buildcache');
    expect(buildCacheRef('127.0.0.1:5000/shop/shop-api')).toBe('127.0.0.1:5000/shop/shop-api:buildcache');
    expect(buildCacheRef(`ghcr.io/acme/shop-api:v2@sha256:${'a'.repeat(64)}`)).toBe(
      'ghcr.io/acme/shop-api:buildcache',
    );
  });

  it('adds --cache-from and --cache-to to a docker build', () => {
    expect(
      line(buildArgs({ tags: [ref], context: 'api', cacheFrom: buildCacheRef(ref), cacheTo: 'type=inline' })),
    ).toBe(
      `docker build -t ${ref} --cache-from 127.0.0.1:5000/shop/shop-api:buildcache --cache-to type=inline api`,
    );
  });
});

describe('image ids on a host', () => {
  it('names references as docker resolves them: docker.io, library/ and :latest implied', () => {
    expect(sameImage('acme/shop', 'docker.io/acme/shop:latest')).toBe(true);
    expect(sameImage('nginx:1.25', 'docker.io/library/nginx:1.25')).toBe(true);
    expect(sameImage('nginx', 'nginx:1.25')).toBe(false);
    expect(sameImage('127.0.0.1:5000/shop/api', '127.0.0.1:5000/shop/api:latest')).toBe(true);
    expect(sameImage('ghcr.io/acme/shop', 'acme/shop')).toBe(false);
  });

  it('reads the id each reference names from one docker image inspect, by tags and digests', () => {
    const refs = [
      'nginx:1.25',
      `${ref}`,
      'acme/shop',
      'registry.example.test/x@sha256:' + 'b'.repeat(64),
      'gone:1',
    ];
    expect(line(inspectImageIdsArgs(refs.slice(0, 2)))).toBe(
      `docker image inspect --format {{.Id}} {{json .RepoTags}} {{json .RepoDigests}} nginx:1.25 ${ref}`,
    );
    const stdout = [
      `sha256:${'1'.repeat(64)} ["nginx:1.25"] ["nginx@sha256:${'c'.repeat(64)}"]`,
      `sha256:${'2'.repeat(64)} ["${ref}"] null`,
      `sha256:${'3'.repeat(64)} ["acme/shop:latest"] []`,
      `sha256:${'4'.repeat(64)} [] ["registry.example.test/x@sha256:${'b'.repeat(64)}"]`,
      '',
    ].join('\n');
    expect(Object.fromEntries(parseImageIds(stdout, refs))).toEqual({
      'nginx:1.25': `sha256:${'1'.repeat(64)}`,
      [ref]: `sha256:${'2'.repeat(64)}`,
      'acme/shop': `sha256:${'3'.repeat(64)}`,
      [`registry.example.test/x@sha256:${'b'.repeat(64)}`]: `sha256:${'4'.repeat(64)}`,
    });
  });
});
